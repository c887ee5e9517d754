/**
 * @module test/browser/shop — a mini-program customer against the running system, over HTTP:
 * a wx.login code from the simulator, our login, an order, "paying" at the simulator (what
 * wx.requestPayment does), and waiting until the Worker has the payment.
 */
export interface Shop {
  worker: string;
  sim: string;
  adminToken: string;
}

async function call<T>(url: string, init: { method?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers: { ...(init.json === undefined ? {} : { "content-type": "application/json" }), ...init.headers },
    body: init.json === undefined ? null : JSON.stringify(init.json),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export async function customer(s: Shop): Promise<{ token: string; openid: string }> {
  const { body: minted } = await call<{ code: string; openid: string }>(`${s.sim}/__sim/login-code`, { json: {} });
  const { status, body } = await call<{ token: string; user: { openid: string } }>(`${s.worker}/v1/auth/login`, { json: { code: minted.code } });
  if (status !== 200) throw new Error(`login: ${status}`);
  return { token: body.token, openid: body.user.openid };
}

export interface OrderJson {
  id: string;
  outTradeNo: string;
  status: string;
  amount: number;
  items: { productId: string; unitPrice: number; quantity: number }[];
}

export async function placeOrder(s: Shop, token: string, items: { productId: string; quantity: number }[]): Promise<{ order: OrderJson; payment: unknown }> {
  const { status, body } = await call<{ order: OrderJson; payment: unknown }>(`${s.worker}/v1/orders`, { json: { items }, headers: { authorization: `Bearer ${token}` } });
  if (status !== 201) throw new Error(`order: ${status} ${JSON.stringify(body)}`);
  return body;
}

/** A PAID order: ordered, paid at the simulator, and known to the Worker as paid. */
export async function paidOrder(s: Shop, items: { productId: string; quantity: number }[]): Promise<OrderJson> {
  const user = await customer(s);
  const { order, payment } = await placeOrder(s, user.token, items);
  const paid = await call<{ ok: boolean }>(`${s.sim}/__sim/pay`, { json: { payment, openid: user.openid } });
  if (!paid.body.ok) throw new Error(`simulator refused payment: ${JSON.stringify(paid.body)}`);
  for (let i = 0; i < 100; i++) {
    const { body } = await call<{ order: OrderJson }>(`${s.worker}/v1/orders/${order.id}?sync=true`, { headers: { authorization: `Bearer ${user.token}` } });
    if (body.order.status === "PAID") return body.order;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`order ${order.id} never became PAID`);
}

export async function adminGet<T>(s: Shop, path: string): Promise<T> {
  const { status, body } = await call<T>(`${s.worker}${path}`, { headers: { authorization: `Bearer ${s.adminToken}` } });
  if (status !== 200) throw new Error(`GET ${path}: ${status}`);
  return body;
}

export async function simRefunds(s: Shop): Promise<{ outTradeNo: string; refund: number; outRefundNo: string }[]> {
  return (await call<{ refunds: { outTradeNo: string; refund: number; outRefundNo: string }[] }>(`${s.sim}/__sim/refunds`)).body.refunds;
}

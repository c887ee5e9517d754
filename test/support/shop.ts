/**
 * @module test/support/shop — common customer journeys on a World: log in, order, pay at the
 * simulator (what wx.requestPayment does), read the order back.
 */
import { env } from "cloudflare:workers";
import type { OrderView } from "../../src/orders/format";
import type { RequestPaymentParams } from "../../src/wechat/pay/port";
import type { World } from "./world";

/** The API's own shapes (SPEC §3): `order` and `payment` as the Worker serialises them. */
export type OrderJson = OrderView;
export type PaymentJson = RequestPaymentParams;

export async function placeOrder(
  w: World,
  token: string,
  items: { productId: string; quantity: number }[] = [{ productId: "prod_coffee", quantity: 2 }],
): Promise<{ order: OrderJson; payment: PaymentJson }> {
  const res = await w.request("POST", "/v1/orders", { json: { items }, token });
  if (res.status !== 201) throw new Error(`order failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { order: OrderJson; payment: PaymentJson };
}

export async function getOrder(w: World, token: string, id: string, sync = false): Promise<OrderJson> {
  const res = await w.request("GET", `/v1/orders/${id}${sync ? "?sync=true" : ""}`, { token });
  if (res.status !== 200) throw new Error(`get order failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { order: OrderJson }).order;
}

/** Logs in, orders, and pays at the simulator; the notification is queued, not yet delivered. */
export async function paidAtWechat(w: World, items?: { productId: string; quantity: number }[]) {
  const user = await w.login();
  const { order, payment } = await placeOrder(w, user.token, items);
  const paid = await w.sim.pay(payment, { openid: user.openid });
  if (!paid.ok) throw new Error(`simulator refused payment: ${paid.errMsg}`);
  return { user, order, payment, transactionId: paid.transactionId! };
}

export async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql).bind(...params).first<{ n: number }>();
  return row?.n ?? 0;
}

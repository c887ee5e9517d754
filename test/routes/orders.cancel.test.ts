import { describe, expect, it } from "vitest";
import { calls, closeKey, count, createPaying, errorOf, type OrderJson, postOrder, queryKey, setup } from "../unit/orders/support";

type OrderRes = { order: OrderJson };

describe("POST /v1/orders/:id/cancel", () => {
  it("PAYING → closed at WeChat, then CLOSED (audit source api); cancelling again answers 200 as is", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token);
    const res = await w.request("POST", `/v1/orders/${order.id}/cancel`, { token: u.token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as OrderRes).order.status).toBe("CLOSED");
    expect(w.sim.getTransaction(order.outTradeNo)!.state).toBe("CLOSED");
    expect(calls(w, closeKey(order.outTradeNo))).toBe(1);
    expect(await count(w, "SELECT count(*) n FROM order_events WHERE order_id = ? AND from_status = 'PAYING' AND to_status = 'CLOSED' AND source = 'api'", order.id)).toBe(1);

    const again = await w.request("POST", `/v1/orders/${order.id}/cancel`, { token: u.token });
    expect(again.status).toBe(200);
    expect(((await again.json()) as OrderRes).order.status).toBe("CLOSED");
    expect(calls(w, closeKey(order.outTradeNo))).toBe(1);
  });

  it("CREATED (never reached WeChat) → CLOSED locally, no close call", async () => {
    const { w, u } = await setup();
    w.sim.addFault({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "status", status: 400, code: "PARAM_ERROR" });
    expect((await postOrder(w, u.token)).status).toBe(502);
    const { orders } = (await (await w.request("GET", "/v1/orders", { token: u.token })).json()) as { orders: OrderJson[] };
    const order = orders[0]!;
    const res = await w.request("POST", `/v1/orders/${order.id}/cancel`, { token: u.token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as OrderRes).order.status).toBe("CLOSED");
    expect(calls(w, closeKey(order.outTradeNo))).toBe(0);
  });

  it("ORDER_CLOSED from WeChat counts as closed", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token);
    w.sim.getTransaction(order.outTradeNo)!.state = "CLOSED";
    const res = await w.request("POST", `/v1/orders/${order.id}/cancel`, { token: u.token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as OrderRes).order.status).toBe("CLOSED");
  });

  it("racing a payment: the user paid at WeChat, cancel → query → PAID and 409 order_not_payable", async () => {
    const { w, u } = await setup();
    const { order, payment } = await createPaying(w, u.token);
    const paid = await w.sim.pay(payment as never, { openid: u.openid });
    expect(paid.ok).toBe(true);
    const res = await w.request("POST", `/v1/orders/${order.id}/cancel`, { token: u.token });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe("order_not_payable");
    expect(calls(w, queryKey(order.outTradeNo))).toBe(1);
    const got = ((await (await w.request("GET", `/v1/orders/${order.id}`, { token: u.token })).json()) as OrderRes).order;
    expect(got.status).toBe("PAID");
    expect(got.transactionId).toBe(paid.transactionId);
    expect(await count(w, "SELECT count(*) n FROM fulfilments WHERE order_id = ?", order.id)).toBe(1);
    expect(await count(w, "SELECT count(*) n FROM order_events WHERE order_id = ? AND to_status = 'PAID' AND source = 'query'", order.id)).toBe(1);
  });

  it("a paid order → 409 order_not_payable without calling WeChat", async () => {
    const { w, u } = await setup();
    const { order, payment } = await createPaying(w, u.token);
    await w.sim.pay(payment as never);
    await w.request("GET", `/v1/orders/${order.id}?sync=true`, { token: u.token });
    const res = await w.request("POST", `/v1/orders/${order.id}/cancel`, { token: u.token });
    expect(res.status).toBe(409);
    expect(calls(w, closeKey(order.outTradeNo))).toBe(0);
  });

  it("an indeterminate close (5xx after retries) → 502, order stays PAYING", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token);
    w.sim.addFault({ target: "api", path: "/v3/pay/transactions/out-trade-no/*", kind: "systemError", count: 3 });
    const res = await w.request("POST", `/v1/orders/${order.id}/cancel`, { token: u.token });
    expect(res.status).toBe(502);
    expect((await errorOf(res)).code).toBe("payment_provider_error");
    const got = ((await (await w.request("GET", `/v1/orders/${order.id}`, { token: u.token })).json()) as OrderRes).order;
    expect(got.status).toBe("PAYING");
  });

  it("another user's order → 404; no token → 401", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token);
    const v = await w.login();
    expect((await w.request("POST", `/v1/orders/${order.id}/cancel`, { token: v.token })).status).toBe(404);
    expect((await w.request("POST", `/v1/orders/${order.id}/cancel`)).status).toBe(401);
    expect(calls(w, closeKey(order.outTradeNo))).toBe(0);
  });
});

import { describe, expect, it } from "vitest";
import {
  calls,
  count,
  createPaying,
  errorOf,
  JSAPI,
  type OrderJson,
  orderRow,
  type PaymentJson,
  postOrder,
  queryKey,
  setup,
} from "../unit/orders/support";
import { T0 } from "../support/harness";

type OrderRes = { order: OrderJson };
type PayRes = { order: OrderJson; payment: PaymentJson };

describe("GET /v1/orders/:id", () => {
  it("returns the caller's order; another user's is 404; an unknown id is 404; no token is 401", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token);
    const res = await w.request("GET", `/v1/orders/${order.id}`, { token: u.token });
    expect(res.status).toBe(200);
    // The read adds the shipping state (SPEC §9): none before payment.
    expect(((await res.json()) as OrderRes).order).toEqual({ ...order, shipping: null });

    const v = await w.login();
    const other = await w.request("GET", `/v1/orders/${order.id}`, { token: v.token });
    expect(other.status).toBe(404);
    expect((await errorOf(other)).code).toBe("not_found");
    expect((await w.request("GET", "/v1/orders/ord_NOPE", { token: u.token })).status).toBe(404);
    expect((await w.request("GET", `/v1/orders/${order.id}`)).status).toBe(401);
  });

  it("without sync, never asks WeChat", async () => {
    const { w, u } = await setup();
    const { order, payment } = await createPaying(w, u.token);
    await w.sim.pay(payment as never);
    const res = await w.request("GET", `/v1/orders/${order.id}`, { token: u.token });
    expect(((await res.json()) as OrderRes).order.status).toBe("PAYING");
    expect(calls(w, queryKey(order.outTradeNo))).toBe(0);
  });
});

describe("GET /v1/orders/:id?sync=true", () => {
  it("SUCCESS → PAID with transactionId and paidAt (WeChat's success_time), audit source query, fulfilment outbox", async () => {
    const { w, u } = await setup();
    const { order, payment } = await createPaying(w, u.token);
    w.clock.advance(7_000);
    const paid = await w.sim.pay(payment as never, { openid: u.openid });
    expect(paid.ok).toBe(true);
    w.clock.advance(3_000);
    const res = await w.request("GET", `/v1/orders/${order.id}?sync=true`, { token: u.token });
    expect(res.status).toBe(200);
    const got = ((await res.json()) as OrderRes).order;
    expect(got.status).toBe("PAID");
    expect(got.transactionId).toBe(paid.transactionId);
    expect(got.paidAt).toBe(new Date(T0 + 7_000).toISOString());
    expect(calls(w, queryKey(order.outTradeNo))).toBe(1);
    expect(await count(w, "SELECT count(*) n FROM order_events WHERE order_id = ? AND from_status = 'PAYING' AND to_status = 'PAID' AND source = 'query'", order.id)).toBe(1);
    expect(await count(w, "SELECT count(*) n FROM fulfilments WHERE order_id = ?", order.id)).toBe(1);
    const row = await orderRow(w, order.id);
    expect(row.next_check_at).toBeNull();
  });

  it("NOTPAY → unchanged; at most one query per 5 s per order", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token);
    const get = async () => ((await (await w.request("GET", `/v1/orders/${order.id}?sync=true`, { token: u.token })).json()) as OrderRes).order;
    expect((await get()).status).toBe("PAYING");
    expect((await get()).status).toBe("PAYING");
    expect(calls(w, queryKey(order.outTradeNo))).toBe(1);
    w.clock.advance(4_999);
    await get();
    expect(calls(w, queryKey(order.outTradeNo))).toBe(1);
    w.clock.advance(1);
    await get();
    expect(calls(w, queryKey(order.outTradeNo))).toBe(2);
    expect(await count(w, "SELECT count(*) n FROM order_events WHERE order_id = ? AND source = 'query'", order.id)).toBe(0);
  });

  it("CLOSED at WeChat → CLOSED", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token);
    w.sim.getTransaction(order.outTradeNo)!.state = "CLOSED";
    const got = ((await (await w.request("GET", `/v1/orders/${order.id}?sync=true`, { token: u.token })).json()) as OrderRes).order;
    expect(got.status).toBe("CLOSED");
    expect(await count(w, "SELECT count(*) n FROM order_events WHERE order_id = ? AND to_status = 'CLOSED' AND source = 'query'", order.id)).toBe(1);
  });

  it("an amount mismatch in the query answer never pays: flagged amount_mismatch, order stays PAYING", async () => {
    const { w, u } = await setup();
    const { order, payment } = await createPaying(w, u.token);
    await w.sim.pay(payment as never);
    w.sim.getTransaction(order.outTradeNo)!.total = 1;
    const got = ((await (await w.request("GET", `/v1/orders/${order.id}?sync=true`, { token: u.token })).json()) as OrderRes).order;
    expect(got.status).toBe("PAYING");
    expect(got.transactionId).toBeNull();
    expect(await count(w, "SELECT count(*) n FROM flags WHERE order_id = ? AND kind = 'amount_mismatch'", order.id)).toBe(1);
    expect(await count(w, "SELECT count(*) n FROM fulfilments WHERE order_id = ?", order.id)).toBe(0);
  });

  it("an appid mismatch in the query answer never pays: flagged appid_mismatch", async () => {
    const { w, u } = await setup();
    const { order, payment } = await createPaying(w, u.token);
    await w.sim.pay(payment as never);
    w.sim.getTransaction(order.outTradeNo)!.appid = "wx0000000000000000";
    const got = ((await (await w.request("GET", `/v1/orders/${order.id}?sync=true`, { token: u.token })).json()) as OrderRes).order;
    expect(got.status).toBe("PAYING");
    expect(await count(w, "SELECT count(*) n FROM flags WHERE order_id = ? AND kind = 'appid_mismatch'", order.id)).toBe(1);
  });

  it("a failing query answers the stored order (200), never an error", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token);
    w.sim.addFault({ target: "api", path: "/v3/pay/transactions/out-trade-no/*", kind: "systemError", count: 3 });
    const res = await w.request("GET", `/v1/orders/${order.id}?sync=true`, { token: u.token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as OrderRes).order.status).toBe("PAYING");
  });
});

describe("POST /v1/orders/:id/pay", () => {
  it("reuses a fresh prepay_id; after 2 h − 10 min prepays again with identical parameters", async () => {
    const { w, u } = await setup({ env: { ORDER_TTL_SECONDS: "86400" } });
    const { order, payment } = await createPaying(w, u.token);
    const again = (await (await w.request("POST", `/v1/orders/${order.id}/pay`, { token: u.token })).json()) as PayRes;
    expect(again.payment.package).toBe(payment.package);
    expect(calls(w, JSAPI)).toBe(1);

    w.clock.advance(2 * 3600_000 - 10 * 60_000 - 1);
    const still = (await (await w.request("POST", `/v1/orders/${order.id}/pay`, { token: u.token })).json()) as PayRes;
    expect(still.payment.package).toBe(payment.package);
    expect(calls(w, JSAPI)).toBe(1);

    w.clock.advance(1);
    const res = await w.request("POST", `/v1/orders/${order.id}/pay`, { token: u.token });
    expect(res.status).toBe(200);
    const fresh = (await res.json()) as PayRes;
    expect(calls(w, JSAPI)).toBe(2);
    expect(fresh.payment.timeStamp).toBe(String(Math.floor(w.clock.now() / 1000)));
    // Identical parameters (the simulator answers OUT_TRADE_NO_USED otherwise), same time_expire.
    const tx = w.sim.getTransaction(order.outTradeNo)!;
    expect(tx.prepayIds.length).toBeGreaterThanOrEqual(1);
    expect(tx.timeExpire).toBe("2026-11-30T20:00:00+08:00");
    const paid = await w.sim.pay(fresh.payment as never);
    expect(paid.ok).toBe(true);
  });

  it("a CREATED order (failed prepay) gets its prepay now", async () => {
    const { w, u } = await setup();
    w.sim.addFault({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "status", status: 400, code: "PARAM_ERROR" });
    expect((await postOrder(w, u.token)).status).toBe(502);
    const list = (await (await w.request("GET", "/v1/orders", { token: u.token })).json()) as { orders: OrderJson[] };
    expect(list.orders[0]!.status).toBe("CREATED");
    const res = await w.request("POST", `/v1/orders/${list.orders[0]!.id}/pay`, { token: u.token });
    expect(res.status).toBe(200);
    const body = (await res.json()) as PayRes;
    expect(body.order.status).toBe("PAYING");
    expect(body.payment.signType).toBe("RSA");
  });

  it("409 order_not_payable once expired, paid or closed; 404 for another user's order", async () => {
    const { w, u } = await setup();
    const a = await createPaying(w, u.token);
    const b = await createPaying(w, u.token);
    await w.sim.pay(b.payment as never);
    await w.request("GET", `/v1/orders/${b.order.id}?sync=true`, { token: u.token });
    const paid = await w.request("POST", `/v1/orders/${b.order.id}/pay`, { token: u.token });
    expect(paid.status).toBe(409);
    expect((await errorOf(paid)).code).toBe("order_not_payable");

    const v = await w.login();
    expect((await w.request("POST", `/v1/orders/${a.order.id}/pay`, { token: v.token })).status).toBe(404);
    expect((await w.request("POST", "/v1/orders/ord_NOPE/pay", { token: u.token })).status).toBe(404);
    expect((await w.request("POST", `/v1/orders/${a.order.id}/pay`)).status).toBe(401);
    expect((await w.request("POST", `/v1/orders/${a.order.id}/pay`, { token: "not.a.token" })).status).toBe(401);

    w.clock.advance(1800_000);
    const expired = await w.request("POST", `/v1/orders/${a.order.id}/pay`, { token: u.token });
    expect(expired.status).toBe(409);
    expect((await errorOf(expired)).code).toBe("order_not_payable");

    const c = await createPaying(w, u.token);
    expect((await w.request("POST", `/v1/orders/${c.order.id}/cancel`, { token: u.token })).status).toBe(200);
    expect((await w.request("POST", `/v1/orders/${c.order.id}/pay`, { token: u.token })).status).toBe(409);
  });
});

describe("GET /v1/orders", () => {
  it("the caller's orders, newest first, with items, paginated by an opaque cursor", async () => {
    const { w, u } = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await createPaying(w, u.token, { items: [{ productId: "prod_tea", quantity: i + 1 }] })).order.id);
      if (i % 2 === 0) w.clock.advance(1000); // two pairs share a createdAt: the id breaks the tie
    }
    const v = await w.login();
    await createPaying(w, v.token);

    const seen: OrderJson[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const res = await w.request("GET", `/v1/orders${q}`, { token: u.token });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { orders: OrderJson[]; nextCursor: string | null };
      expect(body.orders.length).toBeLessThanOrEqual(2);
      seen.push(...body.orders);
      cursor = body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen.map((o) => o.id).sort()).toEqual([...ids].sort());
    for (let i = 1; i < seen.length; i++) {
      const [p, c] = [seen[i - 1]!, seen[i]!];
      expect(p.createdAt > c.createdAt || (p.createdAt === c.createdAt && p.id > c.id)).toBe(true);
    }
    expect(seen[0]!.items[0]!.productId).toBe("prod_tea");
    expect(seen.every((o) => o.items.length === 1)).toBe(true);
  });

  it("default limit 20, nextCursor null at the end; empty list for a new user", async () => {
    const { w, u } = await setup();
    const res = await w.request("GET", "/v1/orders", { token: u.token });
    expect(await res.json()).toEqual({ orders: [], nextCursor: null });
  });

  it("400 for a bad limit or cursor; 401 without a token", async () => {
    const { w, u } = await setup();
    for (const q of ["?limit=0", "?limit=101", "?limit=abc", "?limit=1.5", "?cursor=not-a-cursor", "?cursor=%21%21"]) {
      const res = await w.request("GET", `/v1/orders${q}`, { token: u.token });
      expect(res.status, q).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid_request");
    }
    expect((await w.request("GET", "/v1/orders")).status).toBe(401);
  });
});

describe("OpenAPI", () => {
  it("documents every order route", async () => {
    const { w } = await setup();
    const doc = (await (await w.request("GET", "/openapi.json")).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(doc.paths["/v1/orders"]?.post?.responses).toHaveProperty("201");
    expect(doc.paths["/v1/orders"]?.post?.responses).toHaveProperty("409");
    expect(doc.paths["/v1/orders"]?.get).toBeDefined();
    expect(doc.paths["/v1/orders/{id}"]?.get).toBeDefined();
    expect(doc.paths["/v1/orders/{id}/pay"]?.post?.responses).toHaveProperty("409");
    expect(doc.paths["/v1/orders/{id}/cancel"]?.post).toBeDefined();
  });
});

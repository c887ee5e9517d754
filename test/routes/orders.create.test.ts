import { describe, expect, it } from "vitest";
import {
  calls,
  COFFEE_X2,
  count,
  createPaying,
  errorOf,
  JSAPI,
  type OrderJson,
  orderRow,
  type PaymentJson,
  postOrder,
  realSleep,
  setup,
} from "../unit/orders/support";
import { T0 } from "../support/harness";
import * as keys from "../fixtures/keys";

describe("POST /v1/orders — happy path", () => {
  it("prices from the catalogue, prepays with the session's openid, answers 201 {order, payment}", async () => {
    const { w, u } = await setup();
    const res = await postOrder(w, u.token, {
      items: [
        { productId: "prod_coffee", quantity: 2 },
        { productId: "prod_mooncake", quantity: 1 },
      ],
    });
    expect(res.status).toBe(201);
    const { order, payment } = (await res.json()) as { order: OrderJson; payment: PaymentJson };

    expect(order.status).toBe("PAYING");
    expect(order.amount).toBe(2 * 1800 + 1288);
    expect(order.currency).toBe("CNY");
    expect(order.items).toEqual([
      { productId: "prod_coffee", name: "Pour-over coffee", quantity: 2, unitPrice: 1800 },
      { productId: "prod_mooncake", name: "Lotus-seed mooncake", quantity: 1, unitPrice: 1288 },
    ]);
    expect(order.description).toBe("Pour-over coffee x2, Lotus-seed mooncake");
    expect(order.outTradeNo).toMatch(/^WX20261129[0-9A-Za-z]{16}$/);
    expect(order.refundedAmount).toBe(0);
    expect(order.transactionId).toBeNull();
    expect(order.paidAt).toBeNull();
    expect(order.createdAt).toBe(new Date(T0).toISOString());
    expect(order.expiresAt).toBe(new Date(T0 + 1800_000).toISOString());

    // Exactly the five wx.requestPayment fields.
    expect(Object.keys(payment).sort()).toEqual(["nonceStr", "package", "paySign", "signType", "timeStamp"]);
    expect(payment.signType).toBe("RSA");
    expect(payment.timeStamp).toBe(String(T0 / 1000));
    expect(payment.package).toMatch(/^prepay_id=.+/);

    // What WeChat received: the catalogue's amount, the session's openid, our time_expire.
    const tx = w.sim.getTransaction(order.outTradeNo)!;
    expect(tx.total).toBe(order.amount);
    expect(tx.currency).toBe("CNY");
    expect(tx.openid).toBe(u.openid);
    expect(tx.appid).toBe(keys.APPID);
    expect(tx.mchid).toBe(keys.MCHID);
    expect(tx.description).toBe(order.description);
    expect(tx.timeExpire).toBe("2026-11-29T20:30:00+08:00");
    expect(tx.notifyUrl).toBe(keys.NOTIFY_URL);
    expect(calls(w, JSAPI)).toBe(1);

    // Stored: PAYING with prepay bookkeeping, reconciler date, audit row.
    const row = await orderRow(w, order.id);
    expect(row.status).toBe("PAYING");
    expect(row.openid).toBe(u.openid);
    expect(row.prepay_at).toBe(T0);
    expect(row.next_check_at).toBe(T0 + 60_000);
    expect(row.prepay_lock_until).toBeNull();
    expect(`prepay_id=${row.prepay_id}`).toBe(payment.package);
    expect(await count(w, "SELECT count(*) n FROM order_events WHERE order_id = ? AND from_status = 'CREATED' AND to_status = 'PAYING' AND source = 'api'", order.id)).toBe(1);

    // The payment params work in the (simulated) WeChat client.
    const paid = await w.sim.pay(payment as never, { openid: u.openid });
    expect(paid.ok).toBe(true);
  });

  it("cuts a long description to 127 characters with an ellipsis", async () => {
    const { w, u } = await setup();
    const { order } = await createPaying(w, u.token, {
      items: ["prod_coffee", "prod_tea", "prod_mooncake", "prod_tote", "prod_cent"].map((productId) => ({ productId, quantity: 99 })),
    });
    const full = "Pour-over coffee x99, Longjing green tea x99, Lotus-seed mooncake x99, Canvas tote bag x99, One-fen test item x99";
    expect(full.length).toBeLessThanOrEqual(127);
    expect(order.description).toBe(full);
    expect(order.amount).toBe(99 * (1800 + 2500 + 1288 + 4900 + 1));
  });
});

describe("POST /v1/orders — validation (400) writes nothing", () => {
  const cases: [string, unknown][] = [
    ["no items", { items: [] }],
    ["missing items", {}],
    ["21 lines", { items: Array.from({ length: 21 }, (_, i) => ({ productId: `p${i}`, quantity: 1 })) }],
    ["quantity 0", { items: [{ productId: "prod_coffee", quantity: 0 }] }],
    ["quantity 100", { items: [{ productId: "prod_coffee", quantity: 100 }] }],
    ["fractional quantity", { items: [{ productId: "prod_coffee", quantity: 1.5 }] }],
    ["quantity as a string", { items: [{ productId: "prod_coffee", quantity: "1" }] }],
    ["duplicate productId", { items: [{ productId: "prod_coffee", quantity: 1 }, { productId: "prod_coffee", quantity: 2 }] }],
    ["unknown product", { items: [{ productId: "prod_nope", quantity: 1 }] }],
    ["inactive product", { items: [{ productId: "prod_retired", quantity: 1 }] }],
    ["a client price on a line", { items: [{ productId: "prod_coffee", quantity: 1, unitPrice: 1 }] }],
    ["a client openid", { items: [{ productId: "prod_coffee", quantity: 1 }], openid: "o-attacker" }],
    ["a client amount", { items: [{ productId: "prod_coffee", quantity: 1 }], amount: 1 }],
    ["not an object", [1, 2]],
  ];

  it.each(cases)("%s → 400 invalid_request", async (_name, body) => {
    const { w, u } = await setup();
    const before = await Promise.all([
      count(w, "SELECT count(*) n FROM orders"),
      count(w, "SELECT count(*) n FROM order_items"),
      count(w, "SELECT count(*) n FROM rate_limits WHERE key LIKE 'orders:%'"),
    ]);
    const res = await postOrder(w, u.token, body, "key-validation");
    expect(res.status).toBe(400);
    const err = await errorOf(res);
    expect(err.code).toBe("invalid_request");
    expect(err.requestId).toBe(res.headers.get("x-request-id"));
    const after = await Promise.all([
      count(w, "SELECT count(*) n FROM orders"),
      count(w, "SELECT count(*) n FROM order_items"),
      count(w, "SELECT count(*) n FROM rate_limits WHERE key LIKE 'orders:%'"),
    ]);
    expect(after).toEqual(before);
    expect(calls(w, JSAPI)).toBe(0);
  });

  it("malformed JSON → 400; wrong content type → 415; bad Idempotency-Key → 400", async () => {
    const { w, u } = await setup();
    const bad = await w.request("POST", "/v1/orders", { body: "{", token: u.token, headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    const text = await w.request("POST", "/v1/orders", { body: "items", token: u.token, headers: { "content-type": "text/plain" } });
    expect([400, 415]).toContain(text.status);
    const key = await postOrder(w, u.token, COFFEE_X2, "x".repeat(129));
    expect(key.status).toBe(400);
    expect(calls(w, JSAPI)).toBe(0);
  });
});

describe("POST /v1/orders — authentication", () => {
  it("401 without a token, with a bad token, and before validation", async () => {
    const { w } = await setup();
    const none = await w.request("POST", "/v1/orders", { json: COFFEE_X2 });
    expect(none.status).toBe(401);
    expect((await errorOf(none)).code).toBe("unauthorized");
    const bad = await postOrder(w, "eyJhbGciOiJIUzI1NiJ9.e30.AAAA", COFFEE_X2);
    expect(bad.status).toBe(401);
    const invalidBody = await w.request("POST", "/v1/orders", { json: { items: [] } });
    expect(invalidBody.status).toBe(401);
  });
});

describe("POST /v1/orders — Idempotency-Key", () => {
  it("same key and body → 200 with the same order and fresh payment params; no second prepay", async () => {
    const { w, u } = await setup();
    const first = await postOrder(w, u.token, COFFEE_X2, "k-same");
    expect(first.status).toBe(201);
    const a = (await first.json()) as { order: OrderJson; payment: PaymentJson };
    const again = await postOrder(w, u.token, COFFEE_X2, "k-same");
    expect(again.status).toBe(200);
    const b = (await again.json()) as { order: OrderJson; payment: PaymentJson };
    expect(b.order.id).toBe(a.order.id);
    expect(b.payment.package).toBe(a.payment.package);
    expect(Object.keys(b.payment).sort()).toEqual(["nonceStr", "package", "paySign", "signType", "timeStamp"]);
    expect(calls(w, JSAPI)).toBe(1);
    expect(await count(w, "SELECT count(*) n FROM orders WHERE user_id = ?", u.userId)).toBe(1);
  });

  it("same key, other body → 409 idempotency_conflict", async () => {
    const { w, u } = await setup();
    expect((await postOrder(w, u.token, COFFEE_X2, "k-conflict")).status).toBe(201);
    const res = await postOrder(w, u.token, { items: [{ productId: "prod_coffee", quantity: 3 }] }, "k-conflict");
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe("idempotency_conflict");
  });

  it("keys are per user: another user's same key makes another order", async () => {
    const { w, u } = await setup();
    const v = await w.login();
    const a = (await (await postOrder(w, u.token, COFFEE_X2, "k-shared")).json()) as { order: OrderJson };
    const res = await postOrder(w, v.token, COFFEE_X2, "k-shared");
    expect(res.status).toBe(201);
    const b = (await res.json()) as { order: OrderJson };
    expect(b.order.id).not.toBe(a.order.id);
    expect(w.sim.getTransaction(b.order.outTradeNo)!.openid).toBe(v.openid);
  });

  it("two concurrent requests with one key → one order, one prepay call, both get payment params", async () => {
    const { w, u } = await setup();
    w.deps.sleep = realSleep; // the waiting request must really wait for the first one
    w.sim.addFault({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "delay", ms: 150 });
    const [r1, r2] = await Promise.all([postOrder(w, u.token, COFFEE_X2, "k-race"), postOrder(w, u.token, COFFEE_X2, "k-race")]);
    expect([r1.status, r2.status].sort()).toEqual([200, 201]);
    const [b1, b2] = (await Promise.all([r1.json(), r2.json()])) as { order: OrderJson; payment: PaymentJson }[];
    expect(b1!.order.id).toBe(b2!.order.id);
    expect(b1!.payment.package).toBe(b2!.payment.package);
    expect(calls(w, JSAPI)).toBe(1);
    expect(await count(w, "SELECT count(*) n FROM orders WHERE user_id = ?", u.userId)).toBe(1);
  });

  it("a repeat after a failed prepay retries it with identical parameters", async () => {
    const { w, u } = await setup();
    w.sim.addFault({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "status", status: 400, code: "PARAM_ERROR", message: "injected" });
    const first = await postOrder(w, u.token, COFFEE_X2, "k-retry");
    expect(first.status).toBe(502);
    const again = await postOrder(w, u.token, COFFEE_X2, "k-retry");
    expect(again.status).toBe(200);
    const b = (await again.json()) as { order: OrderJson; payment: PaymentJson };
    expect(b.order.status).toBe("PAYING");
    expect(calls(w, JSAPI)).toBe(2);
  });
});

describe("POST /v1/orders — WeChat Pay failures", () => {
  async function failedCreate(fault: Parameters<import("../simulator").Simulator["addFault"]>[0]) {
    const { w, u } = await setup();
    w.sim.addFault(fault);
    const res = await postOrder(w, u.token);
    expect(res.status).toBe(502);
    const err = await errorOf(res);
    expect(err.code).toBe("payment_provider_error");
    const [row] = (await w.env.DB.prepare("SELECT * FROM orders WHERE user_id = ?").bind(u.userId).all<Record<string, unknown>>()).results;
    expect(row).toBeDefined();
    expect(row!.status).toBe("CREATED");
    expect(row!.prepay_id).toBeNull();
    expect(row!.prepay_lock_until).toBeNull();
    expect(err.message).toContain(String(row!.id));
    return { w, u, err, orderId: String(row!.id), outTradeNo: String(row!.out_trade_no) };
  }

  it("4xx: order kept CREATED, 502 carrying WeChat's code; /pay later succeeds", async () => {
    const { w, u, err, orderId } = await failedCreate({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "status", status: 403, code: "NO_AUTH", message: "商户无权限" });
    expect(err.message).toContain("NO_AUTH");
    expect(calls(w, JSAPI)).toBe(1); // a definite refusal is not retried
    const pay = await w.request("POST", `/v1/orders/${orderId}/pay`, { token: u.token });
    expect(pay.status).toBe(200);
    expect(((await pay.json()) as { order: OrderJson }).order.status).toBe("PAYING");
  });

  it("5xx: retried twice with the same out_trade_no, then 502; order payable", async () => {
    const { w, u, orderId, outTradeNo } = await failedCreate({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "systemError", count: 3 });
    expect(calls(w, JSAPI)).toBe(3);
    const pay = await w.request("POST", `/v1/orders/${orderId}/pay`, { token: u.token });
    expect(pay.status).toBe(200);
    expect(w.sim.getTransaction(outTradeNo)).toBeDefined();
  });

  it("429 after retries: 502, order payable", async () => {
    const { w } = await failedCreate({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "frequencyLimited", count: 3 });
    expect(calls(w, JSAPI)).toBe(3);
  });

  it("timeout (the call took effect at WeChat): 502, and /pay repeats it with identical parameters", async () => {
    const { w, u, orderId, outTradeNo } = await failedCreate({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "timeout", ms: 1, count: 3, applied: true });
    expect(w.sim.getTransaction(outTradeNo)).toBeDefined();
    const pay = await w.request("POST", `/v1/orders/${orderId}/pay`, { token: u.token });
    expect(pay.status).toBe(200); // identical parameters: WeChat accepts the repeat (no OUT_TRADE_NO_USED)
  });

  it("an answer with a bad signature is never used: 502, order CREATED", async () => {
    const { w, u, orderId } = await failedCreate({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "badSignature" });
    const pay = await w.request("POST", `/v1/orders/${orderId}/pay`, { token: u.token });
    expect(pay.status).toBe(200);
    expect(calls(w, JSAPI)).toBeGreaterThanOrEqual(2);
  });
});

describe("POST /v1/orders — rate limit", () => {
  it("ORDER_RATE_LIMIT per user per minute → 429 with Retry-After", async () => {
    const { w, u } = await setup({ env: { ORDER_RATE_LIMIT: "2" } });
    expect((await postOrder(w, u.token)).status).toBe(201);
    expect((await postOrder(w, u.token)).status).toBe(201);
    const third = await postOrder(w, u.token);
    expect(third.status).toBe(429);
    expect((await errorOf(third)).code).toBe("rate_limited");
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another user is not affected.
    const v = await w.login();
    expect((await postOrder(w, v.token)).status).toBe(201);
  });
});

import { describe, expect, it } from "vitest";
import { applyRefundNotification } from "../../src/refunds/notification";
import { count } from "../support/shop";
import { createWorld } from "../support/world";
import { adminOrder, getRefundJson, paidOrder, postRefund, refundCtx, runJob } from "../unit/refunds/support";

const REFUNDS_PATH = "POST /v3/refund/domestic/refunds";

describe("POST /admin/orders/:id/refunds", () => {
  it("happy path: out_refund_no stored, WeChat called with notify_url and amounts, 201 PROCESSING; query → SUCCESS → PARTIALLY_REFUNDED", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w); // 3600 fen
    const r = await postRefund(w, order.id, { amount: 1000, reason: "damaged cup" });
    expect(r.status).toBe(201);
    const refund = r.body.refund!;
    expect(refund).toMatchObject({ orderId: order.id, amount: 1000, status: "PROCESSING", reason: "damaged cup", settledAt: null });
    expect(Object.keys(refund).sort()).toEqual(["amount", "createdAt", "id", "orderId", "outRefundNo", "reason", "settledAt", "status"]);
    const sim = w.sim.getRefund(refund.outRefundNo)!;
    expect(sim).toMatchObject({ outTradeNo: order.outTradeNo, refund: 1000, total: 3600, currency: "CNY", notifyUrl: "https://merchant.example.com/v1/pay/notify", reason: "damaged cup" });

    await w.sim.settleRefund(refund.outRefundNo, "SUCCESS");
    w.clock.advance(61_000);
    const report = await runJob(w);
    expect(report.tasks.refunds.changed).toBeGreaterThanOrEqual(1);
    const settled = await getRefundJson(w, refund.id);
    expect(settled.status).toBe("SUCCESS");
    expect(settled.settledAt).not.toBeNull();
    const detail = await adminOrder(w, order.id);
    expect(detail.order).toMatchObject({ status: "PARTIALLY_REFUNDED", refundedAmount: 1000 });
    expect(detail.history.at(-1)).toMatchObject({ from: "PAID", to: "PARTIALLY_REFUNDED", source: "cron" });
    expect(detail.refunds.map((x) => x.id)).toEqual([refund.id]);
  });

  it("end to end: WeChat settles, REFUND.SUCCESS arrives at /v1/pay/notify → SUCCESS, order refunded, visible in the admin detail", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const refund = (await postRefund(w, order.id, { amount: 3600, reason: "sold out" })).body.refund!;
    await w.sim.settleRefund(refund.outRefundNo, "SUCCESS");
    await w.sim.flush();
    expect(w.sim.deliveries.at(-1)).toMatchObject({ eventType: "REFUND.SUCCESS", status: 204 });
    expect((await getRefundJson(w, refund.id)).status).toBe("SUCCESS");
    const detail = await adminOrder(w, order.id);
    expect(detail.order).toMatchObject({ status: "REFUNDED", refundedAmount: 3600 });
    expect(detail.history.at(-1)).toMatchObject({ from: "PAID", to: "REFUNDED", source: "notify" });
    expect(detail.notifications.map((n) => [n.eventType, n.outcome])).toEqual([
      ["TRANSACTION.SUCCESS", "applied"],
      ["REFUND.SUCCESS", "applied"],
    ]);
  });

  it("partial then full: PARTIALLY_REFUNDED then REFUNDED, refundedAmount the exact sum", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const a = (await postRefund(w, order.id, { amount: 600 })).body.refund!;
    const b = (await postRefund(w, order.id, { amount: 3000 })).body.refund!;
    const ctx = refundCtx(w);
    const note = (no: string, amount: number) => ({ mchid: "1900000109", out_trade_no: order.outTradeNo, out_refund_no: no, refund_id: `50${no}`, refund_status: "SUCCESS", success_time: "2026-11-29T20:05:00+08:00", amount: { refund: amount, total: 3600, payer_refund: amount, payer_total: 3600 } });
    expect(await applyRefundNotification(ctx, note(a.outRefundNo, 600))).toBe("applied");
    expect((await adminOrder(w, order.id)).order).toMatchObject({ status: "PARTIALLY_REFUNDED", refundedAmount: 600 });
    expect(await applyRefundNotification(ctx, note(b.outRefundNo, 3000))).toBe("applied");
    const detail = await adminOrder(w, order.id);
    expect(detail.order).toMatchObject({ status: "REFUNDED", refundedAmount: 3600 });
    expect(detail.history.slice(-2).map((h) => [h.from, h.to, h.source])).toEqual([
      ["PAID", "PARTIALLY_REFUNDED", "notify"],
      ["PARTIALLY_REFUNDED", "REFUNDED", "notify"],
    ]);
    // A duplicate notification changes nothing.
    expect(await applyRefundNotification(ctx, note(b.outRefundNo, 3000))).toBe("duplicate");
    expect((await adminOrder(w, order.id)).order.refundedAmount).toBe(3600);
    expect((await getRefundJson(w, b.id)).settledAt).toBe("2026-11-29T12:05:00.000Z");
    // Nothing left to refund.
    const more = await postRefund(w, order.id, { amount: 1 });
    expect(more.status).toBe(409);
    expect(more.body.error!.code).toBe("refund_not_allowed");
  });

  it("rejects an over-refund, counting refunds still in progress", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    expect((await postRefund(w, order.id, { amount: 3601 })).body.error).toMatchObject({ code: "refund_not_allowed" });
    expect((await postRefund(w, order.id, { amount: 2000 })).status).toBe(201);
    const over = await postRefund(w, order.id, { amount: 1601 });
    expect(over.status).toBe(409);
    expect(over.body.error!.message).toMatch(/1600 of 3600/);
    expect((await postRefund(w, order.id, { amount: 1600 })).status).toBe(201);
    expect(await count("SELECT count(*) AS n FROM refunds WHERE order_id = ?", order.id)).toBe(2);
  });

  it("two CONCURRENT refunds that together exceed the amount: exactly one is accepted", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const results = await Promise.all([postRefund(w, order.id, { amount: 2500 }), postRefund(w, order.id, { amount: 2500 }), postRefund(w, order.id, { amount: 2500 })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    expect(await count("SELECT COALESCE(SUM(amount), 0) AS n FROM refunds WHERE order_id = ? AND status != 'CLOSED'", order.id)).toBe(2500);
    expect(w.sim.stats().calls[REFUNDS_PATH]).toBe(1);
  });

  it("refuses unpaid orders (409), unknown orders (404) and bad input (400, nothing stored)", async () => {
    const w = createWorld();
    const user = await w.login();
    const res = await w.request("POST", "/v1/orders", { json: { items: [{ productId: "prod_tea", quantity: 1 }] }, token: user.token });
    const unpaid = ((await res.json()) as { order: { id: string } }).order;
    expect((await postRefund(w, unpaid.id, { amount: 1 })).body.error!.code).toBe("refund_not_allowed");
    expect((await postRefund(w, "ord_NOPE", { amount: 1 })).status).toBe(404);
    const { order } = await paidOrder(w);
    for (const body of [{ amount: 0 }, { amount: -5 }, { amount: 1.5 }, { amount: "100" }, {}, { amount: 1, reason: "退".repeat(27) }, { amount: 1, extra: true }]) {
      const r = await postRefund(w, order.id, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error!.code).toBe("invalid_request");
    }
    expect(await count("SELECT count(*) AS n FROM refunds WHERE order_id = ?", order.id)).toBe(0);
    // 26 CJK characters = 78 bytes: accepted.
    expect((await postRefund(w, order.id, { amount: 1, reason: "退".repeat(26) })).status).toBe(201);
  });

  it("no Idempotency-Key → 400 invalid_request, nothing stored, nothing sent; the header is required in the OpenAPI document", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const calls = w.sim.stats().calls[REFUNDS_PATH] ?? 0;
    for (const body of [{ amount: 100 }, { amount: 100, reason: "retried without a key" }]) {
      const r = await postRefund(w, order.id, body, null);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: "invalid_request", message: expect.stringMatching(/idempotency-key/i) });
    }
    expect(await count("SELECT count(*) AS n FROM refunds WHERE order_id = ?", order.id)).toBe(0);
    expect(w.sim.stats().calls[REFUNDS_PATH] ?? 0).toBe(calls);
    const doc = (await (await w.request("GET", "/openapi.json")).json()) as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string; required?: boolean }[] }>>;
    };
    const header = doc.paths["/admin/orders/{id}/refunds"]!.post!.parameters!.find((p) => p.in === "header" && p.name === "idempotency-key");
    expect(header?.required).toBe(true);
  });

  it("Idempotency-Key: same key and body → 200 same refund, one WeChat call; other body → 409", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const first = await postRefund(w, order.id, { amount: 500, reason: "late" }, "rk-1");
    expect(first.status).toBe(201);
    const again = await postRefund(w, order.id, { amount: 500, reason: "late" }, "rk-1");
    expect(again.status).toBe(200);
    expect(again.body.refund!.id).toBe(first.body.refund!.id);
    const other = await postRefund(w, order.id, { amount: 501, reason: "late" }, "rk-1");
    expect(other.status).toBe(409);
    expect(other.body.error!.code).toBe("idempotency_conflict");
    expect(w.sim.stats().calls[REFUNDS_PATH]).toBe(1);
    const concurrent = await Promise.all([1, 2, 3].map(() => postRefund(w, order.id, { amount: 700 }, "rk-2")));
    expect(new Set(concurrent.map((r) => r.body.refund!.id)).size).toBe(1);
    expect(concurrent.map((r) => r.status).sort()).toEqual([200, 200, 201]);
  });

  it("WeChat refuses (4xx) → 502 payment_provider_error, refund CLOSED with WeChat's code, amount freed", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    w.sim.addFault({ target: "api", path: "/v3/refund/domestic/refunds", kind: "status", status: 403, code: "NOT_ENOUGH", message: "余额不足" });
    const r = await postRefund(w, order.id, { amount: 3600 });
    expect(r.status).toBe(502);
    expect(r.body.error!.code).toBe("payment_provider_error");
    const row = await w.env.DB.prepare("SELECT status, detail FROM refunds WHERE order_id = ?").bind(order.id).first<{ status: string; detail: string }>();
    expect(row!.status).toBe("CLOSED");
    expect(JSON.parse(row!.detail)).toMatchObject({ code: "NOT_ENOUGH" });
    expect((await postRefund(w, order.id, { amount: 3600 })).status).toBe(201);
  });

  it("unknown outcome (timeout) → 201 PROCESSING; the cron re-sends the SAME out_refund_no, WeChat refunds once", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    w.sim.addFault({ target: "api", path: "/v3/refund/domestic/refunds", kind: "timeout", ms: 10, count: 4 });
    const r = await postRefund(w, order.id, { amount: 1200 });
    expect(r.status).toBe(201);
    expect(r.body.refund!.status).toBe("PROCESSING");
    const no = r.body.refund!.outRefundNo;
    expect(w.sim.getRefund(no)).toBeUndefined();
    w.sim.clearFaults();
    w.clock.advance(61_000);
    await runJob(w); // query → 404 → create again with the same number
    expect(w.sim.getRefund(no)).toMatchObject({ refund: 1200, status: "PROCESSING" });
    await w.sim.settleRefund(no, "SUCCESS");
    w.clock.advance(61_000);
    await runJob(w);
    expect((await getRefundJson(w, r.body.refund!.id)).status).toBe("SUCCESS");
    expect(w.sim.listRefunds().filter((x) => x.outTradeNo === order.outTradeNo)).toHaveLength(1);
    expect((await adminOrder(w, order.id)).order.refundedAmount).toBe(1200);
  });

  it("ABNORMAL (query path) flags the order; the amount stays reserved; resolved later → SUCCESS", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const refund = (await postRefund(w, order.id, { amount: 3600 })).body.refund!;
    await w.sim.settleRefund(refund.outRefundNo, "ABNORMAL");
    w.clock.advance(61_000);
    await runJob(w);
    expect((await getRefundJson(w, refund.id)).status).toBe("ABNORMAL");
    const detail = await adminOrder(w, order.id);
    expect(detail.flags.map((f) => f.kind)).toContain("refund_abnormal");
    expect(detail.order.status).toBe("PAID");
    expect((await postRefund(w, order.id, { amount: 1 })).status).toBe(409);
    await w.sim.settleRefund(refund.outRefundNo, "SUCCESS");
    w.clock.advance(61 * 60_000);
    await runJob(w);
    expect((await adminOrder(w, order.id)).order).toMatchObject({ status: "REFUNDED", refundedAmount: 3600 });
  });

  it("notification path: REFUND.CLOSED frees the amount; mismatches and unknown refunds are flagged", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const refund = (await postRefund(w, order.id, { amount: 3600 })).body.refund!;
    const ctx = refundCtx(w);
    const base = { mchid: "1900000109", out_trade_no: order.outTradeNo, out_refund_no: refund.outRefundNo, amount: { refund: 3600, total: 3600 } };
    expect(await applyRefundNotification(ctx, { ...base, refund_status: "SUCCESS", amount: { refund: 3599, total: 3600 } })).toBe("flagged");
    expect(await applyRefundNotification(ctx, { ...base, refund_status: "SUCCESS", out_trade_no: "WXother" })).toBe("flagged");
    expect(await applyRefundNotification(ctx, { ...base, out_refund_no: "RFunknown", refund_status: "SUCCESS" })).toBe("flagged");
    expect((await getRefundJson(w, refund.id)).status).toBe("PROCESSING");
    let outcomeSeen: string | null = null;
    expect(
      await applyRefundNotification(ctx, { ...base, refund_status: "ABNORMAL" }, { notificationId: "EV-1", extra: (o, about) => ((outcomeSeen = `${o}:${about.orderId}`), []) }),
    ).toBe("applied");
    expect(outcomeSeen).toBe(`applied:${order.id}`);
    expect(await applyRefundNotification(ctx, { ...base, refund_status: "CLOSED" })).toBe("applied");
    expect((await getRefundJson(w, refund.id)).status).toBe("CLOSED");
    expect((await adminOrder(w, order.id)).flags.map((f) => f.kind)).toEqual(
      expect.arrayContaining(["refund_notification_rejected", "refund_abnormal"]),
    );
    await w.sim.settleRefund(refund.outRefundNo, "CLOSED"); // what WeChat did, for the next call
    expect((await postRefund(w, order.id, { amount: 3600 })).status).toBe(201);
  });

  it("20 concurrent SUCCESS notifications for one refund add its amount exactly once", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const refund = (await postRefund(w, order.id, { amount: 900 })).body.refund!;
    const ctx = refundCtx(w);
    const n = { mchid: "1900000109", out_trade_no: order.outTradeNo, out_refund_no: refund.outRefundNo, refund_status: "SUCCESS", amount: { refund: 900, total: 3600 } };
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => applyRefundNotification(ctx, n)));
    expect(outcomes.filter((o) => o === "applied")).toHaveLength(1);
    expect((await adminOrder(w, order.id)).order).toMatchObject({ status: "PARTIALLY_REFUNDED", refundedAmount: 900 });
    expect(await count("SELECT count(*) AS n FROM order_events WHERE order_id = ? AND to_status = 'PARTIALLY_REFUNDED'", order.id)).toBe(1);
  });
});

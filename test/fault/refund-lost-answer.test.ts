/**
 * Fault suite, a refund applied at WeChat whose answer is lost, then a 4xx on the repeat
 * (SPEC §8: "refunds are idempotent by construction"). Whoever repeats it — the transport's own
 * retry, the admin with the same Idempotency-Key, or the cron job — the refusal never marks the
 * refund CLOSED nor frees its amount: WeChat's query decides. WeChat refunds exactly once, and
 * the refund ends as WeChat says.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { count } from "../support/shop";
import { createWorld, type World } from "../support/world";
import { adminOrder, getRefundJson, paidOrder, postRefund, runJob } from "../unit/refunds/support";

const PATH = "/v3/refund/domestic/refunds";
const CREATE = `POST ${PATH}`;
const REFUSED = { status: 400, code: "INVALID_REQUEST", message: "申请退款金额超过订单可退金额" };

const row = (id: string) =>
  env.DB.prepare("SELECT status, submitted_at AS submittedAt, outcome_unknown_at AS outcomeUnknownAt FROM refunds WHERE id = ?")
    .bind(id)
    .first<{ status: string; submittedAt: number | null; outcomeUnknownAt: number | null }>();

/** The refunds WeChat holds for this order. */
const atWechat = (w: World, outTradeNo: string) => w.sim.listRefunds().filter((r) => r.outTradeNo === outTradeNo);

describe("fault: a refund applied at WeChat, its answer lost, the repeat refused", () => {
  it("within one call (500 after applying, the transport's retry gets a 400): 201 PROCESSING, never CLOSED; the query decides; SUCCESS once", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w); // 3600 fen
    w.sim.addFault({ target: "api", path: PATH, method: "POST", kind: "applyThenDrop", answer: "systemError", repeat: REFUSED });
    const r = await postRefund(w, order.id, { amount: 3600, reason: "lost answer" }, "lost-in-call");
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const refund = r.body.refund!;
    expect(refund.status).toBe("PROCESSING");
    expect(w.sim.stats().calls[CREATE]).toBe(2);
    expect(w.sim.listFaults()).toEqual([]); // both the drop and the refusal fired
    expect(atWechat(w, order.outTradeNo)).toMatchObject([{ outRefundNo: refund.outRefundNo, refund: 3600, status: "PROCESSING" }]);
    // Recorded durably; WeChat's answer made it acknowledged.
    expect(await row(refund.id)).toMatchObject({ status: "PROCESSING", submittedAt: expect.any(Number), outcomeUnknownAt: expect.any(Number) });
    // Its amount is still reserved.
    expect((await postRefund(w, order.id, { amount: 1 })).body.error?.code).toBe("refund_not_allowed");

    await w.sim.settleRefund(refund.outRefundNo, "SUCCESS");
    w.clock.advance(61_000);
    await runJob(w);
    expect((await getRefundJson(w, refund.id)).status).toBe("SUCCESS");
    expect((await adminOrder(w, order.id)).order).toMatchObject({ status: "REFUNDED", refundedAmount: 3600 });
    expect(atWechat(w, order.outTradeNo)).toHaveLength(1);
  });

  it("across requests (timeouts after applying, the admin's repeat would be refused): the repeat asks WeChat first, never CLOSED; WeChat closes it → CLOSED", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    w.sim.addFault({ target: "api", path: PATH, method: "POST", kind: "applyThenDrop", ms: 10 });
    w.sim.addFault({ target: "api", path: PATH, method: "POST", kind: "timeout", ms: 10, count: 2 });
    const first = await postRefund(w, order.id, { amount: 1200 }, "lost-across");
    expect(first.status).toBe(201);
    const refund = first.body.refund!;
    expect(await row(refund.id)).toEqual({ status: "PROCESSING", submittedAt: null, outcomeUnknownAt: expect.any(Number) });
    expect(atWechat(w, order.outTradeNo)).toHaveLength(1); // applied, the answer lost

    w.sim.addFault({ target: "api", path: PATH, method: "POST", kind: "status", ...REFUSED });
    const again = await postRefund(w, order.id, { amount: 1200 }, "lost-across");
    expect(again.status).toBe(200);
    expect(again.body.refund).toMatchObject({ id: refund.id, status: "PROCESSING" });
    expect(await row(refund.id)).toMatchObject({ status: "PROCESSING", submittedAt: expect.any(Number) });
    expect(w.sim.stats().calls[CREATE]).toBe(3); // asked, not sent again
    expect((await postRefund(w, order.id, { amount: 2401 })).body.error?.code).toBe("refund_not_allowed");

    // WeChat's truth: it closes the refund; only then is the amount free again.
    await w.sim.settleRefund(refund.outRefundNo, "CLOSED");
    w.clock.advance(61_000);
    await runJob(w);
    expect((await getRefundJson(w, refund.id)).status).toBe("CLOSED");
    expect((await adminOrder(w, order.id)).order).toMatchObject({ status: "PAID", refundedAmount: 0 });
    expect(atWechat(w, order.outTradeNo)).toHaveLength(1);
  });

  it("in the cron job (a refund WeChat never saw, re-sent with the same number, applied, answer lost; a repeat would be refused): no retry within the run, the next run's query finds it, PROCESSING by WeChat's word, then SUCCESS", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    w.sim.addFault({ target: "api", path: PATH, method: "POST", kind: "timeout", ms: 10, count: 3 });
    const refund = (await postRefund(w, order.id, { amount: 900 })).body.refund!;
    expect(atWechat(w, order.outTradeNo)).toHaveLength(0);

    w.clock.advance(61_000);
    w.sim.addFault({ target: "api", path: PATH, method: "POST", kind: "applyThenDrop", answer: "systemError", repeat: REFUSED });
    const creates = w.sim.stats().calls[CREATE];
    const report = await runJob(w); // query → unknown → re-send (same number) → 500 after applying: unknown, not retried in the run (SPEC §8)
    expect(report.tasks.refunds.failed).toBe(1);
    expect(report.errors).toEqual(expect.arrayContaining([expect.objectContaining({ task: "refunds", id: refund.id, code: "indeterminate" })]));
    expect(w.sim.stats().calls[CREATE]).toBe(creates! + 1);
    expect(atWechat(w, order.outTradeNo)).toMatchObject([{ outRefundNo: refund.outRefundNo, refund: 900 }]);
    expect(await row(refund.id)).toMatchObject({ status: "PROCESSING" });

    w.clock.advance(2 * 60_000 + 1000); // the failed item's push-back
    const next = await runJob(w); // query → WeChat has it: PROCESSING, submitted; never sent again
    expect(next.tasks.refunds.failed).toBe(0);
    expect(w.sim.stats().calls[CREATE]).toBe(creates! + 1);
    expect(await row(refund.id)).toMatchObject({ status: "PROCESSING", outcomeUnknownAt: expect.any(Number) });

    await w.sim.settleRefund(refund.outRefundNo, "SUCCESS");
    w.clock.advance(61_000);
    await runJob(w);
    expect((await getRefundJson(w, refund.id)).status).toBe("SUCCESS");
    expect((await adminOrder(w, order.id)).order).toMatchObject({ status: "PARTIALLY_REFUNDED", refundedAmount: 900 });
    expect(atWechat(w, order.outTradeNo)).toHaveLength(1);
  });

  it("refused after an unknown outcome and unknown to WeChat: kept PROCESSING with its amount reserved, flagged once, re-sent with the same number an hour later", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    w.sim.addFault({ target: "api", path: PATH, method: "POST", kind: "timeout", ms: 10, count: 3 });
    const refund = (await postRefund(w, order.id, { amount: 600 })).body.refund!;

    w.clock.advance(61_000);
    w.sim.addFault({ target: "api", path: PATH, method: "POST", kind: "status", ...REFUSED });
    await runJob(w); // query → unknown → re-send → 400 → query → still unknown
    expect(await row(refund.id)).toMatchObject({ status: "PROCESSING", submittedAt: null });
    expect(atWechat(w, order.outTradeNo)).toHaveLength(0);
    expect((await postRefund(w, order.id, { amount: 3001 })).body.error?.code).toBe("refund_not_allowed");
    const flags = () => count("SELECT count(*) AS n FROM flags WHERE order_id = ? AND kind = 'refund_unresolved'", order.id);
    expect(await flags()).toBe(1);

    // Not again within the hour…
    const calls = w.sim.stats().calls[CREATE];
    w.clock.advance(10 * 60_000);
    await runJob(w);
    expect(w.sim.stats().calls[CREATE]).toBe(calls);
    // …then sent again, same out_refund_no, and accepted this time.
    w.clock.advance(51 * 60_000);
    await runJob(w);
    expect(atWechat(w, order.outTradeNo)).toMatchObject([{ outRefundNo: refund.outRefundNo, refund: 600, status: "PROCESSING" }]);
    await w.sim.settleRefund(refund.outRefundNo, "SUCCESS");
    await w.sim.flush();
    expect((await getRefundJson(w, refund.id)).status).toBe("SUCCESS");
    expect((await adminOrder(w, order.id)).order.refundedAmount).toBe(600);
    expect(await flags()).toBe(1);
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FULFILMENT_LEASE_MS, retryDueFulfilments } from "../../src/fulfilment/runner";
import type { PaidOrderForFulfilment } from "../../src/context";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../../src/db/schema";
import * as keys from "../fixtures/keys";
import { wrapD1 } from "../support/chaos";
import { count, getOrder, paidAtWechat, placeOrder } from "../support/shop";
import { createWorld, type World } from "../support/world";
import type { CorruptKind } from "../simulator/faults";

function fulfilmentCounter() {
  const runs: string[] = [];
  return { runs, fulfil: async (o: PaidOrderForFulfilment) => void runs.push(o.id) };
}

const statuses = (w: World) => w.sim.deliveries.map((d) => d.status);

describe("POST /v1/pay/notify", () => {
  it("marks the order PAID with WeChat's transaction id and success_time, and fulfils it once", async () => {
    const f = fulfilmentCounter();
    const w = createWorld({ fulfil: f.fulfil });
    const { user, order, transactionId } = await paidAtWechat(w);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAYING");
    await w.sim.flush();
    expect(statuses(w)).toEqual([204]);
    const paid = await getOrder(w, user.token, order.id);
    expect(paid.status).toBe("PAID");
    expect(paid.transactionId).toBe(transactionId);
    const tx = w.sim.getTransaction(order.outTradeNo)!;
    expect(Date.parse(paid.paidAt!)).toBe(tx.successTime);
    expect(f.runs).toEqual([order.id]);
    expect(await count("SELECT count(*) AS n FROM notifications WHERE order_id = ? AND outcome = 'applied'", order.id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM order_events WHERE order_id = ? AND to_status = 'PAID' AND source = 'notify'", order.id)).toBe(1);
  });

  it("answers 204 with no body", async () => {
    const w = createWorld();
    const { order } = await paidAtWechat(w);
    const item = w.sim.notifications.find((n) => n.outTradeNo === order.outTradeNo)!;
    expect(item).toBeDefined();
    await w.sim.flush();
    const rec = w.sim.deliveries.at(-1)!;
    expect(rec.status).toBe(204);
  });

  it("applies sequential duplicates once: every copy answered 204, one transition, one fulfilment", async () => {
    const f = fulfilmentCounter();
    const w = createWorld({ fulfil: f.fulfil });
    w.sim.addFault({ target: "notify", kind: "duplicate", copies: 3 });
    const { user, order } = await paidAtWechat(w);
    await w.sim.flush();
    expect(statuses(w)).toEqual([204, 204, 204]);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAID");
    expect(await count("SELECT count(*) AS n FROM order_events WHERE order_id = ? AND to_status = 'PAID'", order.id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM notifications WHERE order_id = ?", order.id)).toBe(1);
    expect(f.runs).toEqual([order.id]);
  });

  it("applies 20 concurrent identical deliveries once", async () => {
    const f = fulfilmentCounter();
    const w = createWorld({ fulfil: f.fulfil });
    w.sim.addFault({ target: "notify", kind: "duplicate", copies: 20, concurrent: true });
    const { user, order } = await paidAtWechat(w);
    await w.sim.flush();
    expect(statuses(w)).toEqual(Array(20).fill(204));
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAID");
    expect(await count("SELECT count(*) AS n FROM order_events WHERE order_id = ? AND to_status = 'PAID'", order.id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM fulfilments WHERE order_id = ?", order.id)).toBe(1);
    expect(f.runs).toEqual([order.id]);
  });

  it.each<[CorruptKind, number]>([
    ["body", 401],
    ["signature", 401],
    ["timestamp", 401],
    ["nonce", 401],
    ["serial", 401],
    ["stale", 401],
    ["future", 401],
    ["algorithm", 400],
    ["aad", 400],
    ["ciphertext", 400],
  ])("rejects a notification with a tampered %s (%i), leaving the order untouched, then accepts the retry", async (what, status) => {
    const w = createWorld();
    w.sim.addFault({ target: "notify", kind: "corrupt", what, count: 1 });
    const { user, order } = await paidAtWechat(w);
    await w.sim.flush({ rounds: 1 });
    expect(w.sim.deliveries[0]!.status).toBe(status);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAYING");
    expect(await count("SELECT count(*) AS n FROM notifications")).toBe(await count("SELECT count(*) AS n FROM notifications WHERE order_id IS NOT NULL AND order_id <> ?", order.id));
    // WeChat retries on its schedule; the genuine delivery goes through.
    await w.sim.flush();
    expect(w.sim.deliveries.at(-1)!.status).toBe(204);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAID");
  });

  it("fails the SIGNTEST probe like any bad signature (401 FAIL), without crashing", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "notify", kind: "signtest", count: 1 });
    const { user, order } = await paidAtWechat(w);
    await w.sim.flush({ rounds: 1 });
    expect(w.sim.deliveries[0]!.status).toBe(401);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAYING");
  });

  it("answers failures in WeChat's shape {code: FAIL, message}", async () => {
    const w = createWorld();
    const res = await w.request("POST", "/v1/pay/notify", { body: "{}", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("FAIL");
    expect(body.message).toMatch(/Wechatpay-/);
    const bad = await w.request("POST", "/v1/pay/notify", { body: "x".repeat(70_000), headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe("FAIL");
  });

  it.each(["certificate", "publicKey", "both"] as const)("verifies notifications in %s mode", async (keyMode) => {
    const w = createWorld({ keyMode });
    if (keyMode === "both") w.sim.setSigning({ publicKeyRatio: 0.5 });
    const journeys = [];
    for (let i = 0; i < (keyMode === "both" ? 6 : 1); i++) journeys.push(await paidAtWechat(w));
    await w.sim.flush();
    for (const j of journeys) expect((await getOrder(w, j.user.token, j.order.id)).status).toBe("PAID");
    const serials = new Set(w.sim.deliveries.map((d) => d.serial));
    if (keyMode === "both") expect(serials.size).toBe(2);
    expect(statuses(w).every((s) => s === 204)).toBe(true);
  });

  it("stores and flags a verified notification for an unknown order, answering 204", async () => {
    const w = createWorld();
    const { order } = await paidAtWechat(w);
    await w.sim.flush();
    const view = w.sim.transactionView(order.outTradeNo)!;
    await w.sim.queueNotification({
      eventType: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      originalType: "transaction",
      resource: { ...view, out_trade_no: "WXUNKNOWN0001", transaction_id: "4200000000000000000000000001" },
      url: "https://merchant.example.com/v1/pay/notify",
    });
    await w.sim.flush();
    expect(w.sim.deliveries.at(-1)!.status).toBe(204);
    expect(await count("SELECT count(*) AS n FROM flags WHERE kind = 'unknown_order'")).toBe(1);
    expect(await count("SELECT count(*) AS n FROM notifications WHERE out_trade_no = 'WXUNKNOWN0001' AND outcome = 'flagged'")).toBe(1);
  });

  it("never pays an order from a notification whose amount differs; flags it and answers 204", async () => {
    const f = fulfilmentCounter();
    const w = createWorld({ fulfil: f.fulfil });
    const user = await w.login();
    const { order } = await placeOrder(w, user.token);
    await w.sim.queueNotification({
      eventType: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      originalType: "transaction",
      resource: {
        appid: "wxd930ea5d5a258f4f", mchid: "1900000109", out_trade_no: order.outTradeNo, transaction_id: "4200000000000000000000000002",
        trade_type: "JSAPI", trade_state: "SUCCESS", success_time: "2026-11-29T20:00:00+08:00",
        payer: { openid: user.openid }, amount: { total: 1, payer_total: 1, currency: "CNY", payer_currency: "CNY" },
      },
      url: "https://merchant.example.com/v1/pay/notify",
    });
    await w.sim.flush();
    expect(w.sim.deliveries.at(-1)!.status).toBe(204);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAYING");
    expect(await count("SELECT count(*) AS n FROM flags WHERE order_id = ? AND kind = 'amount_mismatch'", order.id)).toBe(1);
    expect(f.runs).toEqual([]);
  });

  it("makes a CLOSED order PAID when WeChat reports the money taken, and flags it", async () => {
    const f = fulfilmentCounter();
    const w = createWorld({ fulfil: f.fulfil });
    const { user, order } = await paidAtWechat(w);
    // Our side closed it before the notification arrived (e.g. expiry while the notification was lost).
    await env.DB.prepare("UPDATE orders SET status = 'CLOSED' WHERE id = ?").bind(order.id).run();
    await w.sim.flush();
    const o = await getOrder(w, user.token, order.id);
    expect(o.status).toBe("PAID");
    expect(await count("SELECT count(*) AS n FROM flags WHERE order_id = ? AND kind = 'paid_after_close'", order.id)).toBe(1);
    expect(f.runs).toEqual([order.id]);
  });

  it("records failing fulfilment and retries it from the cron job until it succeeds, never twice", async () => {
    let calls = 0;
    const w = createWorld({
      fulfil: async () => {
        calls++;
        if (calls <= 2) throw new Error(`warehouse unavailable (${calls})`);
      },
    });
    const { order } = await paidAtWechat(w);
    await w.sim.flush();
    expect(calls).toBe(1);
    const db = drizzle(env.DB, { schema });
    const row = await env.DB.prepare("SELECT * FROM fulfilments WHERE order_id = ?").bind(order.id).first<{ status: string; attempts: number; last_error: string }>();
    expect(row).toMatchObject({ status: "PENDING", attempts: 1 });
    expect(row!.last_error).toContain("warehouse unavailable (1)");
    // Not due yet: the cron does nothing.
    expect((await retryDueFulfilments(db, w.deps, w.env, 10)).scanned).toBe(0);
    w.clock.advance(61_000);
    expect(await retryDueFulfilments(db, w.deps, w.env, 10)).toEqual({ scanned: 1, done: 0, failed: 1 });
    w.clock.advance(121_000);
    expect(await retryDueFulfilments(db, w.deps, w.env, 10)).toEqual({ scanned: 1, done: 1, failed: 0 });
    w.clock.advance(3_600_000);
    expect(await retryDueFulfilments(db, w.deps, w.env, 10)).toEqual({ scanned: 0, done: 0, failed: 0 });
    expect(calls).toBe(3);
    expect(await env.DB.prepare("SELECT status FROM fulfilments WHERE order_id = ?").bind(order.id).first("status")).toBe("DONE");
  });

  it("claims the fulfilment in the paying batch; if the request dies before recording it, the cron job takes over after the lease", async () => {
    // The hook runs, then the write recording DONE fails (as if the Worker died right there).
    let failDone = 1;
    let batches = 0;
    const flakyDb = wrapD1({
      batch: (real, stmts) => {
        batches++;
        return real.batch(stmts);
      },
      prepare: (real, sql) => {
        if (!sql.includes("SET status = 'DONE'") || failDone === 0) return real.prepare(sql);
        failDone--;
        return { bind: () => ({ run: async () => { throw new Error("D1_ERROR: worker went away"); } }) } as unknown as D1PreparedStatement;
      },
    });
    const f = fulfilmentCounter();
    const seen: PaidOrderForFulfilment[] = [];
    const w = createWorld({ fulfil: async (o) => (seen.push(o), f.fulfil(o)), env: { DB: flakyDb } });
    const { order } = await paidAtWechat(w);
    batches = 0;
    await w.sim.flush();
    expect(statuses(w)).toEqual([204]);
    expect(f.runs).toEqual([order.id]);
    // D1 round trips of the delivery: one read batch and one atomic write batch (the claim
    // included) before the answer, then only the outcome's write.
    expect(batches).toBe(2);
    // Inserted already claimed by the paying request: RUNNING, first attempt, leased.
    const row = await env.DB.prepare("SELECT status, attempts, lease_until FROM fulfilments WHERE order_id = ?").bind(order.id).first();
    expect(row).toEqual({ status: "RUNNING", attempts: 1, lease_until: w.clock.now() + FULFILMENT_LEASE_MS });
    expect(w.logs.join("\n")).toContain("worker went away");
    const db = drizzle(env.DB, { schema });
    // The lease holds: nobody else runs it meanwhile.
    w.clock.advance(FULFILMENT_LEASE_MS - 1_000);
    expect(await retryDueFulfilments(db, w.deps, w.env, 10)).toEqual({ scanned: 0, done: 0, failed: 0 });
    w.clock.advance(1_000);
    expect(await retryDueFulfilments(db, w.deps, w.env, 10)).toEqual({ scanned: 1, done: 1, failed: 0 });
    expect(await env.DB.prepare("SELECT status, attempts FROM fulfilments WHERE order_id = ?").bind(order.id).first()).toEqual({ status: "DONE", attempts: 2 });
    expect(f.runs).toEqual([order.id, order.id]);
    // The claimed run (after the notification) and the cron's run hand the hook the same order.
    expect(seen[0]).toMatchObject({ id: order.id, outTradeNo: order.outTradeNo, amount: order.amount, transactionId: expect.any(String) });
    expect(seen[0]!.items.length).toBeGreaterThan(0);
    expect(seen[1]).toEqual(seen[0]);
  });

  it("answers 500 when D1 fails mid-apply, and the redelivery succeeds", async () => {
    let failBatches = 1;
    const flakyDb = wrapD1({
      batch: async (real, stmts) => {
        // Fail the batch that writes the notification log (the transition batch).
        if (failBatches > 0 && stmts.length > 2) {
          failBatches--;
          throw new Error("D1_ERROR: simulated storage failure");
        }
        return real.batch(stmts);
      },
    });
    const w = createWorld({ env: { DB: flakyDb } });
    const { user, order } = await paidAtWechat(w);
    await w.sim.flush({ rounds: 1 });
    expect(w.sim.deliveries[0]!.status).toBe(500);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAYING");
    await w.sim.flush();
    expect(w.sim.deliveries.at(-1)!.status).toBe(204);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAID");
    expect(w.logs.join("\n")).toContain("simulated storage failure");
  });
});

/**
 * env.DB whose next order transition batch, once armed, loses its race (a concurrent same-status
 * change of the order — a prepay refresh — lands just before it), and whose transition batch
 * after that (the re-decided retry) fails.
 */
function loseThenFail() {
  let orderId: string | null = null;
  let transitionBatches = 0;
  let transitionPrepared = false;
  const db = wrapD1({
    prepare: (real, sql) => {
      if (sql.startsWith("UPDATE orders SET status")) transitionPrepared = true;
      return real.prepare(sql);
    },
    batch: async (real, stmts) => {
      const isTransition = transitionPrepared;
      transitionPrepared = false;
      if (isTransition && orderId !== null) {
        transitionBatches++;
        if (transitionBatches === 1) await real.prepare("UPDATE orders SET last_transition_id = 'trn_concurrent' WHERE id = ?").bind(orderId).run();
        if (transitionBatches === 2) throw new Error("D1_ERROR: simulated storage failure after a lost race");
      }
      return real.batch(stmts);
    },
  });
  return { db, arm: (id: string) => void ((orderId = id), (transitionBatches = 0)), transitionBatches: () => transitionBatches };
}

describe("POST /v1/pay/notify — stored as handled only with its effect (SPEC §8)", () => {
  it("TRANSACTION.SUCCESS: a lost race, then a failing retry → 500, the notification id is not stored, and the redelivery applies it", async () => {
    const flaky = loseThenFail();
    const f = fulfilmentCounter();
    const w = createWorld({ fulfil: f.fulfil, env: { DB: flaky.db } });
    const { user, order } = await paidAtWechat(w);
    flaky.arm(order.id);
    await w.sim.flush({ rounds: 1 });
    expect(flaky.transitionBatches()).toBe(2);
    expect(statuses(w)).toEqual([500]);
    expect(await count("SELECT count(*) AS n FROM notifications WHERE order_id = ?", order.id)).toBe(0);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAYING");
    await w.sim.flush();
    expect(statuses(w)).toEqual([500, 204]);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAID");
    expect(await count("SELECT count(*) AS n FROM notifications WHERE order_id = ? AND outcome = 'applied'", order.id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM order_events WHERE order_id = ? AND to_status = 'PAID'", order.id)).toBe(1);
    expect(f.runs).toEqual([order.id]);
  });

  it("REFUND.SUCCESS: the same — the refund and the order take it on the redelivery, once", async () => {
    const flaky = loseThenFail();
    const w = createWorld({ env: { DB: flaky.db } });
    const { user, order } = await paidAtWechat(w);
    await w.sim.flush();
    const res = await w.request("POST", `/admin/orders/${order.id}/refunds`, {
      json: { amount: 500 },
      headers: { authorization: `Bearer ${keys.ADMIN_TOKEN}`, "idempotency-key": `lost-race-${order.id}` },
    });
    expect(res.status).toBe(201);
    const { outRefundNo } = ((await res.json()) as { refund: { outRefundNo: string } }).refund;
    await w.sim.settleRefund(outRefundNo, "SUCCESS");
    flaky.arm(order.id);
    await w.sim.flush({ rounds: 1 });
    expect(flaky.transitionBatches()).toBe(2);
    expect(w.sim.deliveries.at(-1)).toMatchObject({ eventType: "REFUND.SUCCESS", status: 500 });
    expect(await count("SELECT count(*) AS n FROM notifications WHERE out_refund_no = ?", outRefundNo)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM refunds WHERE out_refund_no = ? AND status = 'PROCESSING'", outRefundNo)).toBe(1);
    await w.sim.flush();
    expect(w.sim.deliveries.at(-1)).toMatchObject({ eventType: "REFUND.SUCCESS", status: 204 });
    expect(await getOrder(w, user.token, order.id)).toMatchObject({ status: "PARTIALLY_REFUNDED", refundedAmount: 500 });
    expect(await count("SELECT count(*) AS n FROM notifications WHERE out_refund_no = ? AND outcome = 'applied'", outRefundNo)).toBe(1);
  });
});

describe("POST /v1/pay/notify — refunds", () => {
  const admin = { authorization: `Bearer test-admin-token-0123456789abcdef` };

  async function paidOrder(w: World) {
    const j = await paidAtWechat(w);
    await w.sim.flush();
    return j;
  }

  async function refund(w: World, orderId: string, amount: number) {
    const res = await w.request("POST", `/admin/orders/${orderId}/refunds`, {
      json: { amount, reason: "customer asked" },
      headers: { ...admin, "idempotency-key": `rf-${orderId}-${amount}` },
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { refund: { id: string; outRefundNo: string; status: string } }).refund;
  }

  it("applies REFUND.SUCCESS once: refund SUCCESS, order PARTIALLY_REFUNDED with refundedAmount", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "notify", kind: "duplicate", copies: 2, eventType: "REFUND.SUCCESS" });
    const { user, order } = await paidOrder(w);
    const r = await refund(w, order.id, 1000);
    await w.sim.settleRefund(r.outRefundNo, "SUCCESS");
    await w.sim.flush();
    expect(w.sim.deliveries.filter((d) => d.eventType === "REFUND.SUCCESS").map((d) => d.status)).toEqual([204, 204]);
    const o = await getOrder(w, user.token, order.id);
    expect(o.status).toBe("PARTIALLY_REFUNDED");
    expect(o.refundedAmount).toBe(1000);
    const rr = (await (await w.request("GET", `/admin/refunds/${r.id}`, { headers: admin })).json()) as { refund: { status: string } };
    expect(rr.refund.status).toBe("SUCCESS");
    expect(await count("SELECT count(*) AS n FROM notifications WHERE out_refund_no = ? AND outcome = 'applied'", r.outRefundNo)).toBe(1);
  });

  it("records REFUND.ABNORMAL and flags the order for attention", async () => {
    const w = createWorld();
    const { user, order } = await paidOrder(w);
    const r = await refund(w, order.id, order.amount);
    await w.sim.settleRefund(r.outRefundNo, "ABNORMAL");
    await w.sim.flush();
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAID");
    const rr = (await (await w.request("GET", `/admin/refunds/${r.id}`, { headers: admin })).json()) as { refund: { status: string } };
    expect(rr.refund.status).toBe("ABNORMAL");
    expect(await count("SELECT count(*) AS n FROM flags WHERE order_id = ?", order.id)).toBeGreaterThan(0);
  });

  it("flags a verified refund notification for a refund we never made, answering 204", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    await w.sim.queueNotification({
      eventType: "REFUND.SUCCESS",
      summary: "退款成功",
      originalType: "refund",
      resource: {
        mchid: "1900000109", out_trade_no: order.outTradeNo, transaction_id: "4200000000000000000000000009",
        out_refund_no: "RF-NOT-OURS-1", refund_id: "50000000000000000000000000001", refund_status: "SUCCESS",
        success_time: "2026-11-29T20:10:00+08:00", amount: { total: order.amount, refund: 100, payer_total: order.amount, payer_refund: 100 },
      },
      url: "https://merchant.example.com/v1/pay/notify",
    });
    await w.sim.flush();
    expect(w.sim.deliveries.at(-1)!.status).toBe(204);
    expect(await count("SELECT count(*) AS n FROM notifications WHERE out_refund_no = 'RF-NOT-OURS-1' AND outcome = 'flagged'")).toBe(1);
    expect(await count("SELECT count(*) AS n FROM flags WHERE kind = 'refund_notification_rejected'")).toBeGreaterThan(0);
  });
});

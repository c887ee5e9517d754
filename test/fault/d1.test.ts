/**
 * Fault suite, D1 failing under the cron job (the notify path's "D1 fails mid-apply → 500 →
 * redelivery succeeds" is covered in test/routes/notify.test.ts). A D1 write failing during a
 * reconciliation run is reported (the run's report, its stored row, a log line), the run goes
 * on with the other items, nothing is half-applied, and the next run converges: every payment
 * WeChat took ends up PAID and fulfilled exactly once; every expired unpaid order CLOSED.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PaidOrderForFulfilment } from "../../src/context";
import * as keys from "../fixtures/keys";
import { allOrders, flakyD1, runCron, truthDiff } from "../support/chaos";
import { paidAtWechat, placeOrder } from "../support/shop";
import { createWorld, type World } from "../support/world";

const MIN = 60_000;

function counter() {
  const fulfilled = new Map<string, number>();
  return { fulfilled, fulfil: async (o: PaidOrderForFulfilment) => void fulfilled.set(o.id, (fulfilled.get(o.id) ?? 0) + 1) };
}

/** Orders paid at WeChat whose notifications are lost, plus one order nobody pays. */
async function lostPayments(w: World, n: number) {
  w.sim.addFault({ target: "notify", kind: "drop", count: n });
  const paid = [];
  for (let i = 0; i < n; i++) paid.push(await paidAtWechat(w));
  const u = await w.login();
  const unpaid = (await placeOrder(w, u.token)).order;
  return { paid, unpaid };
}

const statusOf = async (id: string) => (await env.DB.prepare("SELECT status FROM orders WHERE id = ?").bind(id).first<{ status: string }>())!.status;

describe("fault: D1 failing during reconciliation", () => {
  it("a failed transition batch is reported, the run goes on, nothing is half-applied, and the next run converges", async () => {
    const c = counter();
    const flaky = flakyD1();
    const w = createWorld({ fulfil: c.fulfil });
    const { paid } = await lostPayments(w, 4);
    expect(w.sim.notifications.every((n) => n.state === "dropped")).toBe(true);

    w.clock.advance(61_000); // the PAYING check is due 60 s after prepay
    flaky.failBatches(1, 1); // the run's first batch takes its lease; a transition batch fails
    const first = await runCron(w, { ...w.env, DB: flaky.db });
    expect(flaky.failures()).toBe(1);
    // Reported: in the report, in its stored row, in the log.
    expect(first).not.toBeNull();
    expect(first!.failed).toBeGreaterThanOrEqual(1);
    expect(first!.tasks.payingOrders).toMatchObject({ scanned: 5, changed: 3, failed: 1 }) // + the unpaid one, still unpaid;
    expect(first!.errors.some((e) => e.task === "payingOrders" && /simulated storage failure/.test(e.message))).toBe(true);
    const stored = await env.DB.prepare("SELECT report FROM reconcile_runs WHERE id = ?").bind(first!.runId).first<{ report: string }>();
    expect(JSON.parse(stored!.report).failed).toBeGreaterThanOrEqual(1);
    expect(w.logs.some((l) => l.includes("reconcile item failed") && l.includes("simulated storage failure"))).toBe(true);
    // The run went on: three orders PAID and fulfilled; the failed one untouched (no event, no outbox row).
    const statuses = await Promise.all(paid.map((p) => statusOf(p.order.id)));
    expect(statuses.filter((s) => s === "PAID")).toHaveLength(3);
    const stuck = paid[statuses.indexOf("PAYING")]!.order.id;
    expect(await env.DB.prepare("SELECT count(*) AS n FROM order_events WHERE order_id = ? AND to_status = 'PAID'").bind(stuck).first<{ n: number }>()).toEqual({ n: 0 });
    expect(await env.DB.prepare("SELECT count(*) AS n FROM fulfilments WHERE order_id = ?").bind(stuck).first<{ n: number }>()).toEqual({ n: 0 });
    expect(c.fulfilled.has(stuck)).toBe(false);

    // Next runs (after the failure back-off): converge, D1 healthy again.
    for (let i = 0; i < 3; i++) {
      w.clock.advance(2 * MIN + 1000);
      await runCron(w, { ...w.env, DB: flaky.db });
    }
    expect(await statusOf(stuck)).toBe("PAID");
    for (const p of paid) expect(c.fulfilled.get(p.order.id)).toBe(1);
  });

  it("a run whose D1 is down from the start fails as a whole (logged, no exception), and the next run converges", async () => {
    const c = counter();
    const w = createWorld({ fulfil: c.fulfil });
    const { paid, unpaid } = await lostPayments(w, 3);
    const down = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare" || prop === "batch" || prop === "exec") {
          return () => {
            throw new Error("D1_ERROR: simulated outage");
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    w.clock.advance(31 * MIN); // the unpaid order has expired too
    const report = await runCron(w, { ...w.env, DB: down as D1Database });
    expect(report).toBeNull();
    expect(w.logs.some((l) => l.includes("simulated outage"))).toBe(true);
    for (const p of paid) expect(await statusOf(p.order.id)).toBe("PAYING");

    const next = await runCron(w);
    expect(next!.failed).toBe(0);
    expect(next!.changed).toBeGreaterThanOrEqual(4);
    for (const p of paid) expect(await statusOf(p.order.id)).toBe("PAID");
    expect(await statusOf(unpaid.id)).toBe("CLOSED");
    expect(w.sim.getTransaction(unpaid.outTradeNo)!.state).toBe("CLOSED");
    // On the free plan's 45 queries a run may leave some fulfilments to the next minute's run.
    w.clock.advance(MIN);
    await runCron(w);
    expect(await truthDiff(w, c.fulfilled, new Set([...paid.map((p) => p.order.id), unpaid.id]))).toEqual([]);
  });

  it("POST /admin/reconcile reports a D1 failure in its answer (200 {report} with failed > 0), and converges on the next call", async () => {
    const c = counter();
    const flaky = flakyD1();
    const w = createWorld({ fulfil: c.fulfil, env: { DB: flaky.db } });
    const { paid } = await lostPayments(w, 2);
    w.clock.advance(61_000);
    flaky.failBatches(1, 1); // after the lease batch
    const res = await w.request("POST", "/admin/reconcile", { headers: { authorization: `Bearer ${keys.ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const { report } = (await res.json()) as { report: { failed: number; errors: { message: string }[] } };
    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(report.errors.map((e) => e.message).join("\n")).toContain("simulated storage failure");

    w.clock.advance(2 * MIN + 1000);
    const again = await w.request("POST", "/admin/reconcile", { headers: { authorization: `Bearer ${keys.ADMIN_TOKEN}` } });
    expect(((await again.json()) as { report: { failed: number } }).report.failed).toBe(0);
    for (const p of paid) expect(await statusOf(p.order.id)).toBe("PAID");
    expect((await allOrders()).filter((o) => o.status === "PAYING")).toHaveLength(1); // the unpaid one, not expired yet
    for (const p of paid) expect(c.fulfilled.get(p.order.id)).toBe(1);
  });

  it("D1 failing while a failed fulfilment is being recorded: the lease runs out, the cron retries, the hook succeeds once", async () => {
    const flaky = flakyD1();
    const runs: string[] = [];
    let failNext = true;
    const w = createWorld({
      env: { DB: flaky.db },
      fulfil: async (o) => {
        if (failNext) {
          failNext = false;
          flaky.failBatches(1); // the batch that records this failure (PENDING + back-off) fails too
          throw new Error("hook down (injected)");
        }
        runs.push(o.id);
      },
    });
    const { paid } = await lostPayments(w, 1);
    const id = paid[0]!.order.id;
    w.clock.advance(61_000);
    const first = await runCron(w);
    expect(flaky.failures()).toBe(1);
    expect(first!.failed).toBeGreaterThanOrEqual(1);
    expect(await statusOf(id)).toBe("PAID");
    // The row is left RUNNING under its lease: nobody runs it again before the lease ends.
    expect(await env.DB.prepare("SELECT status FROM fulfilments WHERE order_id = ?").bind(id).first()).toEqual({ status: "RUNNING" });
    w.clock.advance(60_000);
    await runCron(w);
    expect(runs).toEqual([]);
    // After the lease (5 min), the cron takes it over: the hook runs once more, successfully.
    for (let i = 0; i < 6; i++) {
      w.clock.advance(MIN);
      await runCron(w);
    }
    expect(runs).toEqual([id]);
    const row = await env.DB.prepare("SELECT status, attempts FROM fulfilments WHERE order_id = ?").bind(id).first<{ status: string; attempts: number }>();
    expect(row).toEqual({ status: "DONE", attempts: 2 });
  });
});

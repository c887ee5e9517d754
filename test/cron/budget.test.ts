// The run's budget (SPEC §8) under a slow WeChat and a large backlog. Its own file: 10 000 orders.
import { describe, expect, it } from "vitest";
import { CLOSE_QUERIES } from "../../src/reconcile/lease";
import { CRON_TIMEOUT_MS, RUN_WALL_MS } from "../../src/reconcile/job";
import { PAYING_ORDER_COST } from "../../src/reconcile/orders";
import type { ReconcileReport } from "../../src/reconcile/report";
import { cronCounted } from "../support/counting";
import { createWorld, type World } from "../support/world";

const BACKLOG = 10_000;

/** 10 000 due orders: half PAYING and due for a query, half past their expiry. Unknown to WeChat. */
async function seedBacklog(w: World, tag: string): Promise<void> {
  const u = await w.login();
  const now = w.clock.now();
  await w.env.DB.prepare(
    "INSERT INTO orders (id, user_id, openid, out_trade_no, status, amount, description, time_expire, expires_at, prepay_id, prepay_at, next_check_at, created_at, updated_at) " +
      "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?) " +
      "SELECT 'ord_' || ? || n, ?, ?, ? || 'X' || n, 'PAYING', 100, 'bulk', '2026-11-29T20:30:00+08:00', " +
      "CASE WHEN n % 2 = 0 THEN ? ELSE ? END, 'wx_' || n, ?, ?, ?, ? FROM seq",
  )
    .bind(BACKLOG, tag, u.userId, u.openid, tag, now - 1000, now + 3_600_000, now - 120_000, now - 1000, now - 120_000, now - 120_000)
    .run();
}

/** Every WeChat call times out: the clock moves by the cron's timeout, the call fails like AbortSignal.timeout. */
function timingOut(w: World, seen: string[]): typeof fetch {
  return async (input, init) => {
    if (!(init?.signal instanceof AbortSignal)) throw new Error("a cron call without a timeout signal");
    seen.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
    w.clock.advance(CRON_TIMEOUT_MS);
    throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
  };
}

const duration = (r: ReconcileReport) => Date.parse(r.finishedAt) - Date.parse(r.startedAt);

describe("a run's budget: every WeChat API timing out, 10 000 due orders", () => {
  it("free plan: stops within its limits (counted by us too), never retries in the run, writes its report with what is left", async () => {
    const w = createWorld();
    await seedBacklog(w, "B1");
    const seen: string[] = [];
    const { report, requests, queries } = await cronCounted(w, timingOut(w, seen));

    expect(requests).toBeLessThanOrEqual(45);
    expect(queries).toBeLessThanOrEqual(45);
    // The job's own counters agree with ours (its report is taken before the closing batch).
    expect(report.budget.spent).toEqual({ subrequests: requests, queries: queries - CLOSE_QUERIES });
    expect(report.budget).toMatchObject({ plan: "free", limits: { subrequests: 45, queries: 45 }, wallMs: RUN_WALL_MS });
    expect(duration(report)).toBeLessThanOrEqual(RUN_WALL_MS);
    // Each timed-out order spends 2 of its 12 declared queries: the clock runs out first.
    expect(report.stoppedEarly).toBe("time");
    expect(report.left.payingOrders).toBeGreaterThan(0);
    expect(report.left.expiredOrders).toBe(50); // selected, none started: the next item would not end in time
    // No in-run retry: each order's query was sent once.
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen).size).toBe(seen.length);
    expect(report.failed).toBeGreaterThan(0);
    expect(report.errors[0]).toMatchObject({ task: "payingOrders", code: "indeterminate" });

    const row = await w.env.DB.prepare("SELECT finished_at, report FROM reconcile_runs WHERE id = ?").bind(report.runId).first<{ finished_at: number; report: string }>();
    expect(row!.finished_at).not.toBeNull();
    expect(JSON.parse(row!.report)).toMatchObject({ stoppedEarly: "time", left: report.left });
  });

  it("paid plan: the wall-time budget ends the run (each call takes the full timeout), within 25 s and the limits", async () => {
    const w = createWorld();
    await seedBacklog(w, "B2");
    const seen: string[] = [];
    const { report, requests, queries } = await cronCounted(w, timingOut(w, seen), { env: { WORKERS_PLAN: "paid" } });
    expect(report.budget.limits).toEqual({ subrequests: 900, queries: 900 });
    expect(report.stoppedEarly).toBe("time");
    expect(duration(report)).toBeLessThanOrEqual(RUN_WALL_MS);
    // Each item may take up to 2 timeouts (a certificate download after the query), so it stops by then.
    expect(requests).toBe(seen.length);
    expect(requests).toBeGreaterThanOrEqual(Math.floor(RUN_WALL_MS / CRON_TIMEOUT_MS) - PAYING_ORDER_COST.requests);
    expect(requests).toBeLessThanOrEqual(Math.floor(RUN_WALL_MS / CRON_TIMEOUT_MS));
    expect(queries).toBeLessThanOrEqual(900);
    expect(report.left.payingOrders).toBeGreaterThan(0);
  });

  it("a real timeout: the cron's own short timeout aborts a hanging call, once, no retry", async () => {
    const w = createWorld();
    await seedBacklog(w, "B3");
    let calls = 0;
    const hang: typeof fetch = (_input, init) => {
      calls++;
      return new Promise((_, reject) => init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason)));
    };
    const t0 = performance.now();
    const { report, requests } = await cronCounted(w, hang, { deps: { upstream: { cronTimeoutMs: 30 } } });
    expect(requests).toBe(calls);
    expect(calls).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(report.errors.every((e) => e.code === "indeterminate")).toBe(true);
    expect(report.errors[0]!.message).toContain("after 1 attempts");
  });

  it("free plan, WeChat answering at once: the queries budget ends the run", async () => {
    const w = createWorld();
    await seedBacklog(w, "B5");
    const { report, requests, queries } = await cronCounted(w, w.deps.fetch);
    expect(requests).toBeLessThanOrEqual(45);
    expect(queries).toBeLessThanOrEqual(45);
    expect(report.budget.spent).toEqual({ subrequests: requests, queries: queries - CLOSE_QUERIES });
    expect(report.stoppedEarly).toBe("queries");
    expect(report.left.payingOrders).toBeGreaterThan(0);
  });

  it("paid plan, WeChat answering: both batches of 50 fit within the limits", async () => {
    const w = createWorld();
    await seedBacklog(w, "B4");
    const { report, requests, queries } = await cronCounted(w, w.deps.fetch, { env: { WORKERS_PLAN: "paid" } });
    expect(requests).toBeLessThanOrEqual(900);
    expect(queries).toBeLessThanOrEqual(900);
    expect(report.budget.spent).toEqual({ subrequests: requests, queries: queries - CLOSE_QUERIES });
    expect(report.tasks.payingOrders.scanned).toBe(50);
    expect(report.tasks.expiredOrders).toMatchObject({ scanned: 50, changed: 50 }); // unknown at WeChat → CLOSED
    expect(report.stoppedEarly).toBeNull();
    expect(report.left).toEqual({});
  });
});

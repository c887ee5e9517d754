/**
 * @module reconcile/job — the reconciliation job (SPEC §5, §8): run by the cron trigger every minute
 * and by `POST /admin/reconcile`. Each task is bounded, oldest first, and has no state logic of
 * its own (orders through `orders/apply`, refunds through `refunds/transition`). A failing item
 * is recorded in the report and the run goes on; a failing task does not stop the others.
 *
 * One run at a time (reconcile/lease.ts: a second one gets `409 reconcile_running`), within a
 * budget (reconcile/budget.ts): a wall time, and the plan's per-invocation requests and D1
 * queries, counted through the run's own metered `fetch` and D1 binding. WeChat Pay calls use a
 * short timeout and no retry: the next run is the retry. Every run that took the lease stores its
 * report in `reconcile_runs`, also when a budget stopped it (`stoppedEarly`, `left`) or a task threw.
 */
import { drizzle } from "drizzle-orm/d1";
import { getConfig } from "../config";
import type { Config } from "../config";
import type { AppDeps } from "../context";
import * as schema from "../db/schema";
import { randomString } from "../lib/random";
import { runShippingTasks } from "../shipping/cron";
import { createWechatPay } from "../wechat/pay";
import { runBillCheck } from "./billcheck";
import { PLAN_LIMITS, RunBudget } from "./budget";
import { refreshCertificatesIfStale, type CertificateTaskResult } from "./certificates";
import { DEFAULT_LIMITS, describeError, type ItemError, type JobContext, type ReconcileLimits } from "./context";
import { runDueFulfilments } from "./fulfilments";
import { CLOSE_QUERIES, LEASE_SLACK_MS, finishAndRelease, reconcileRunning, takeLease } from "./lease";
import { checkExpiredOrders, checkPayingOrders } from "./orders";
import { checkRefunds } from "./refunds";
import { MAX_REPORTED_ERRORS, TASKS, emptyStats, type BillCheckSummary, type ReconcileReport, type TaskName, type TaskStats } from "./report";

/** Stop taking new work after 25 s: the run, its last item and its report end well inside the minute. */
export const RUN_WALL_MS = 25_000;
/** The cron's WeChat Pay timeout per call (no retries within a run). */
export const CRON_TIMEOUT_MS = 3_000;

export interface ReconcileOptions {
  trigger: "cron" | "admin";
  /** The run's "now" (ms); default the injected clock. */
  now?: number;
  limits?: Partial<ReconcileLimits>;
  /** Check this bill date now (YYYY-MM-DD), whatever kv says. */
  billDate?: string;
  /** Wall-time budget of a budget made here (default RUN_WALL_MS). */
  wallMs?: number;
  /** A budget already counting this invocation (the cron's housekeeping); default a fresh one. */
  budget?: RunBudget;
}

/** The budget of one run: the plan's limits, the wall time, the cron's timeout, the closing writes kept back. */
export function createRunBudget(config: Config, deps: AppDeps, startedAt: number, wallMs = RUN_WALL_MS): RunBudget {
  return new RunBudget({
    limits: PLAN_LIMITS[config.workersPlan],
    clock: deps.clock,
    startedAt,
    wallMs,
    requestTimeoutMs: deps.upstream?.cronTimeoutMs ?? CRON_TIMEOUT_MS,
    reserve: { subrequests: 0, queries: CLOSE_QUERIES },
  });
}

/** Runs the job; throws `AppError("reconcile_running")` when another run holds the lease. */
export async function runReconciliation(env: Env, deps: AppDeps, opts: ReconcileOptions): Promise<ReconcileReport> {
  const config = getConfig(env);
  const startedAt = opts.now ?? deps.clock.now();
  const budget = opts.budget ?? createRunBudget(config, deps, startedAt, opts.wallMs);
  // Everything the run does goes through these: the counters see every request and statement.
  const runEnv = { ...env, DB: budget.d1(env.DB) } as Env;
  const runDeps: AppDeps = { ...deps, fetch: budget.fetch(deps.fetch) };
  const db = drizzle(runEnv.DB, { schema });
  const log = deps.logger.with({ job: "reconcile", trigger: opts.trigger });

  const holder = randomString(deps.random, 24);
  const lease = await takeLease(db, { holder, trigger: opts.trigger, now: startedAt, ttlMs: budget.opts.wallMs + LEASE_SLACK_MS });
  if ("heldBy" in lease) throw reconcileRunning(lease.heldBy, deps.clock.now());
  const { runId } = lease;

  const errors: ItemError[] = [];
  let errorCount = 0;
  const pay = createWechatPay({
    config,
    deps: runDeps,
    db,
    options: { ...deps.upstream?.wechatPay, timeoutMs: budget.opts.requestTimeoutMs, maxRetries: 0 },
  });
  const ctx: JobContext = {
    env: runEnv,
    db,
    deps: runDeps,
    config,
    pay,
    log,
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    budget,
    orders: { db, clock: deps.clock, random: deps.random, merchant: { appid: config.appid, mchid: config.mchid }, log },
    refunds: { db, deps: runDeps, config, port: pay.port },
    fail(task, id, err) {
      errorCount++;
      const { code, message } = describeError(err);
      if (errors.length < MAX_REPORTED_ERRORS) errors.push({ task, id, code, message });
      log.warn("reconcile item failed", { task, id, code, reason: message });
    },
  };

  const tasks = Object.fromEntries(TASKS.map((t) => [t, emptyStats()])) as Record<TaskName, TaskStats>;
  const durationsMs = Object.fromEntries(TASKS.map((t) => [t, 0])) as Record<TaskName, number>;
  let certificates: CertificateTaskResult | null = null;
  let bill: BillCheckSummary = { status: "not_due", billDate: null };

  const timed = async (name: TaskName, fn: (stats: TaskStats) => Promise<void>) => {
    // Every task starts with at least one query; without room for it, it waits for the next run.
    if (!budget.canSpend(0, 1)) return budget.leave(name, "not_started");
    const t0 = deps.clock.now();
    try {
      await fn(tasks[name]);
    } catch (err) {
      // A whole task failed (e.g. its select): record it; the other tasks still run.
      tasks[name].failed++;
      ctx.fail(name, null, err);
    }
    durationsMs[name] = deps.clock.now() - t0;
  };

  try {
    await timed("payingOrders", (s) => checkPayingOrders(ctx, startedAt, s));
    await timed("expiredOrders", (s) => checkExpiredOrders(ctx, startedAt, s));
    await timed("refunds", (s) => checkRefunds(ctx, startedAt, s));
    await timed("certificates", async (s) => {
      certificates = await refreshCertificatesIfStale(ctx, s);
    });
    // After the order tasks, so orders that just became PAID are fulfilled in the same run.
    await timed("fulfilments", (s) => runDueFulfilments(ctx, deps.clock.now(), s));
    await timed("bill", async (s) => {
      bill = await runBillCheck(ctx, startedAt, s, { force: opts.billDate, trigger: opts.trigger });
    });
    // After fulfilments, so shipments the hook reported in this run are uploaded by it too (as
    // the shipping task's items: their due time is now, not the run's start).
    await timed("shipping", (s) => runShippingTasks(ctx, deps.clock.now(), s));
  } catch (err) {
    // Not expected (timed catches per task), but the report below is written whatever happened.
    ctx.fail("run", null, err);
  }

  const finishedAt = deps.clock.now();
  const sum = (k: keyof TaskStats) => TASKS.reduce((acc, t) => acc + tasks[t][k], 0);
  const report: ReconcileReport = {
    runId,
    trigger: opts.trigger,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    scanned: sum("scanned"),
    changed: sum("changed"),
    failed: Math.max(sum("failed"), errorCount > 0 ? 1 : 0),
    tasks,
    durationsMs,
    certificates,
    bill,
    errors,
    budget: { plan: config.workersPlan, wallMs: budget.opts.wallMs, limits: budget.opts.limits, spent: { ...budget.spent } },
    stoppedEarly: budget.stoppedEarly,
    left: budget.left,
  };
  budget.close();
  // The closing batch (CLOSE_QUERIES statements) is counted too, after `spent` was taken for the report.
  await finishAndRelease(db, { holder, runId, finishedAt, report: JSON.stringify(report) });
  log.info("reconcile run", { runId, scanned: report.scanned, changed: report.changed, failed: report.failed, stoppedEarly: report.stoppedEarly, spent: report.budget.spent });
  return report;
}

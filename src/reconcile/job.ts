/**
 * @module reconcile/job — the reconciliation job (SPEC §5): run by the cron trigger every minute
 * and by `POST /admin/reconcile`. Each task is bounded, oldest first, and has no state logic of
 * its own (orders through `orders/apply`, refunds through `refunds/transition`). A failing item
 * is recorded in the report and the run goes on; a failing task does not stop the others.
 * Every run is stored in `reconcile_runs` with its report.
 */
import { drizzle } from "drizzle-orm/d1";
import { getConfig } from "../config";
import type { AppDeps } from "../context";
import * as schema from "../db/schema";
import { retryDueFulfilments } from "../fulfilment/runner";
import { runShippingTasks } from "../shipping/cron";
import { createWechatPay, type WechatPay } from "../wechat/pay";
import { runBillCheck } from "./billcheck";
import { refreshCertificatesIfStale, type CertificateTaskResult } from "./certificates";
import { DEFAULT_LIMITS, describeError, type ItemError, type JobContext, type ReconcileLimits } from "./context";
import { checkExpiredOrders, checkPayingOrders } from "./orders";
import { checkRefunds } from "./refunds";
import {
  MAX_REPORTED_ERRORS,
  TASKS,
  emptyStats,
  finishRun,
  startRun,
  type BillCheckSummary,
  type ReconcileReport,
  type TaskName,
  type TaskStats,
} from "./report";

export interface ReconcileOptions {
  trigger: "cron" | "admin";
  /** The run's "now" (ms); default the injected clock. */
  now?: number;
  limits?: Partial<ReconcileLimits>;
  /** Check this bill date now (YYYY-MM-DD), whatever kv says. */
  billDate?: string;
  /** WeChat Pay (tests may pass one); default built from the config and deps. */
  pay?: WechatPay;
}

export async function runReconciliation(env: Env, deps: AppDeps, opts: ReconcileOptions): Promise<ReconcileReport> {
  const config = getConfig(env);
  const db = drizzle(env.DB, { schema });
  const startedAt = opts.now ?? deps.clock.now();
  const log = deps.logger.with({ job: "reconcile", trigger: opts.trigger });
  const errors: ItemError[] = [];
  let errorCount = 0;
  const pay = opts.pay ?? createWechatPay({ config, deps, db });
  const ctx: JobContext = {
    env,
    db,
    deps,
    config,
    pay,
    log,
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    orders: { db, clock: deps.clock, random: deps.random, merchant: { appid: config.appid, mchid: config.mchid }, log },
    refunds: { db, deps, config, port: pay.port },
    fail(task, id, err) {
      errorCount++;
      const { code, message } = describeError(err);
      if (errors.length < MAX_REPORTED_ERRORS) errors.push({ task, id, code, message });
      log.warn("reconcile item failed", { task, id, code, reason: message });
    },
  };

  const runId = await startRun(db, opts.trigger, startedAt);
  const tasks = Object.fromEntries(TASKS.map((t) => [t, emptyStats()])) as Record<TaskName, TaskStats>;
  const durationsMs = Object.fromEntries(TASKS.map((t) => [t, 0])) as Record<TaskName, number>;
  let certificates: CertificateTaskResult | null = null;
  let bill: BillCheckSummary = { status: "not_due", billDate: null };

  const timed = async (name: TaskName, fn: (stats: TaskStats) => Promise<void>) => {
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

  await timed("payingOrders", (s) => checkPayingOrders(ctx, startedAt, s));
  await timed("expiredOrders", (s) => checkExpiredOrders(ctx, startedAt, s));
  await timed("refunds", (s) => checkRefunds(ctx, startedAt, s));
  await timed("certificates", async (s) => {
    certificates = await refreshCertificatesIfStale(ctx, s);
  });
  // After the order tasks, so orders that just became PAID are fulfilled in the same run.
  await timed("fulfilments", async (s) => {
    const r = await retryDueFulfilments(db, deps, env, ctx.limits.fulfilments);
    s.scanned += r.scanned;
    s.changed += r.done;
    s.failed += r.failed;
  });
  // After fulfilments, so shipments the hook reported in this run are uploaded by it too.
  await timed("shipping", (s) =>
    runShippingTasks({ db, d1: env.DB, deps, config, log: log.with({ task: "shipping" }) }, startedAt, s, (id, err) => ctx.fail("shipping", id, err)),
  );
  await timed("bill", async (s) => {
    bill = await runBillCheck(ctx, startedAt, s, { force: opts.billDate, trigger: opts.trigger });
  });

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
  };
  await finishRun(db, report, finishedAt);
  log.info("reconcile run", { runId, scanned: report.scanned, changed: report.changed, failed: report.failed });
  return report;
}

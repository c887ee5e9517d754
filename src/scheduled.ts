/**
 * @module scheduled — what the cron trigger runs (SPEC §5): housekeeping that belongs to no
 * other module (old rate-limit windows), then the reconciliation job (src/reconcile/job.ts), both
 * within one budget (the invocation's limits are per invocation). Never throws: a failure is
 * logged (and, for the job, stored in its run report); while another run holds the lease, the
 * cron skips its turn with a log line.
 */
import type { AppDeps } from "./context";
import { getConfig } from "./config";
import { AppError } from "./errors";
import { deleteOldWindows } from "./lib/ratelimit";
import { createRunBudget, runReconciliation, type ReconcileOptions } from "./reconcile/job";
import type { ReconcileReport } from "./reconcile/report";

export interface ScheduledEvent {
  scheduledTime: number;
  cron: string;
}

export async function runScheduled(
  env: Env,
  deps: AppDeps,
  _event: ScheduledEvent,
  opts: Omit<ReconcileOptions, "trigger"> = {},
): Promise<ReconcileReport | null> {
  const log = deps.logger.with({ job: "cron" });
  let config;
  try {
    config = getConfig(env);
  } catch (err) {
    log.error("cron skipped: configuration is invalid", { reason: (err as Error).message });
    return null;
  }
  const budget = opts.budget ?? createRunBudget(config, deps, deps.clock.now(), opts.wallMs);
  try {
    // Rate-limit windows are one minute; anything older than the previous one is dead weight.
    // Counted in the run's budget: the limits are per invocation.
    await deleteOldWindows(budget.d1(env.DB), deps.clock.now());
  } catch (err) {
    log.error("rate-limit cleanup failed", { reason: (err as Error).message });
  }
  try {
    return await runReconciliation(env, deps, { ...opts, budget, trigger: "cron" });
  } catch (err) {
    if (err instanceof AppError && err.code === "reconcile_running") {
      log.info("cron skipped: another reconciliation run holds the lease", { reason: err.message });
    } else {
      log.error("reconciliation run failed", { reason: (err as Error).message });
    }
    return null;
  }
}

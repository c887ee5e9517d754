/**
 * @module scheduled — what the cron trigger runs (SPEC §5): housekeeping that belongs to no
 * other module (old rate-limit windows), then the reconciliation job (src/reconcile/job.ts).
 * Never throws: a failure is logged (and, for the job, stored in its run report).
 */
import type { AppDeps } from "./context";
import { getConfig } from "./config";
import { deleteOldWindows } from "./lib/ratelimit";
import { runReconciliation, type ReconcileOptions } from "./reconcile/job";
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
  try {
    getConfig(env);
  } catch (err) {
    log.error("cron skipped: configuration is invalid", { reason: (err as Error).message });
    return null;
  }
  try {
    // Rate-limit windows are one minute; anything older than the previous one is dead weight.
    await deleteOldWindows(env.DB, deps.clock.now());
  } catch (err) {
    log.error("rate-limit cleanup failed", { reason: (err as Error).message });
  }
  try {
    return await runReconciliation(env, deps, { ...opts, trigger: "cron" });
  } catch (err) {
    log.error("reconciliation run failed", { reason: (err as Error).message });
    return null;
  }
}

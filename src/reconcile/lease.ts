/**
 * @module reconcile/lease — one reconciliation run at a time, across isolates (SPEC §8).
 *
 * The lease is one D1 row (`reconcile_lease`, id 1) with a holder and an expiry. Taking it is one
 * atomic batch: an upsert that overwrites the row only when it has expired, the run's report row
 * inserted only if this holder now owns the lease, and the current holder read back (so a loser
 * learns who runs, for its 409). A run that dies without releasing blocks the next ones only until
 * the expiry, which is shorter than the cron interval: the next minute's run proceeds.
 */
import type { Db } from "../context";
import { rowsOf } from "../db/rows";
import { AppError } from "../errors";
import { d1Of } from "../orders/repository";

/** Room beyond the run's wall budget before its lease counts as abandoned (well under a minute in total). */
export const LEASE_SLACK_MS = 30_000;

export interface LeaseHolder {
  trigger: string;
  startedAt: number;
  expiresAt: number;
}

const SQL = {
  take:
    "INSERT INTO reconcile_lease (id, holder, trigger, started_at, expires_at) VALUES (1, ?, ?, ?, ?) " +
    "ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, trigger = excluded.trigger, started_at = excluded.started_at, " +
    "expires_at = excluded.expires_at WHERE reconcile_lease.expires_at <= excluded.started_at",
  startRun:
    "INSERT INTO reconcile_runs (trigger, started_at) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM reconcile_lease WHERE id = 1 AND holder = ?) RETURNING id",
  holder: 'SELECT trigger, started_at AS "startedAt", expires_at AS "expiresAt" FROM reconcile_lease WHERE id = 1',
  finish: "UPDATE reconcile_runs SET finished_at = ?, report = ? WHERE id = ?",
  release: "DELETE FROM reconcile_lease WHERE id = 1 AND holder = ?",
} as const;

/** Statements the taking costs (for the run's budget). */
export const TAKE_QUERIES = 3;
/** Statements the closing costs: the report and the release. */
export const CLOSE_QUERIES = 2;

export function reconcileRunning(holder: LeaseHolder, now: number): AppError {
  const retryAfter = Math.max(1, Math.ceil((holder.expiresAt - now) / 1000));
  return new AppError(
    "reconcile_running",
    `a reconciliation run (${holder.trigger}) started at ${new Date(holder.startedAt).toISOString()} is still running; ` +
      `try again when it ends (its lease expires at ${new Date(holder.expiresAt).toISOString()} at the latest)`,
    { retryAfter, logFields: { holderStartedAt: holder.startedAt } },
  );
}

/**
 * Takes the lease for `holder` and opens the run's report row. Returns the run id, or the
 * current holder when another run has the lease.
 */
export async function takeLease(
  db: Db,
  run: { holder: string; trigger: string; now: number; ttlMs: number },
): Promise<{ runId: number } | { heldBy: LeaseHolder }> {
  const d1 = d1Of(db);
  const [, started, current] = await d1.batch<Record<string, unknown>>([
    d1.prepare(SQL.take).bind(run.holder, run.trigger, run.now, run.now + run.ttlMs),
    d1.prepare(SQL.startRun).bind(run.trigger, run.now, run.holder),
    d1.prepare(SQL.holder),
  ]);
  const row = rowsOf(started)[0];
  if (row) return { runId: row.id as number };
  const held = rowsOf(current)[0] as LeaseHolder | undefined;
  // The row vanished between our statements (a release in between): report it as just finished.
  return { heldBy: held ?? { trigger: "unknown", startedAt: run.now, expiresAt: run.now } };
}

/** Stores the report and gives the lease back (only ours: a lease taken over is not touched). */
export async function finishAndRelease(db: Db, run: { holder: string; runId: number; finishedAt: number; report: string }): Promise<void> {
  const d1 = d1Of(db);
  await d1.batch([d1.prepare(SQL.finish).bind(run.finishedAt, run.report, run.runId), d1.prepare(SQL.release).bind(run.holder)]);
}

/**
 * @module reconcile/report — the per-run report (SPEC §5: counts, errors, durations), stored in
 * `reconcile_runs` and returned by `POST /admin/reconcile`.
 */
import { eq } from "drizzle-orm";
import type { Db } from "../context";
import { reconcileRuns } from "../db/schema";
import type { ItemError } from "./context";

export const TASKS = ["payingOrders", "expiredOrders", "refunds", "certificates", "fulfilments", "shipping", "bill"] as const;
export type TaskName = (typeof TASKS)[number];

export interface TaskStats {
  scanned: number;
  changed: number;
  failed: number;
}

export interface BillCheckSummary {
  /** not_due | already_checked | waiting | not_ready | checked | failed */
  status: string;
  billDate: string | null;
  rows?: number;
  diffs?: Record<string, number>;
  consistent?: boolean;
}

export interface ReconcileReport {
  runId: number;
  trigger: "cron" | "admin";
  startedAt: string;
  finishedAt: string;
  /** Totals over all tasks. */
  scanned: number;
  changed: number;
  failed: number;
  tasks: Record<TaskName, TaskStats>;
  durationsMs: Record<TaskName, number>;
  certificates: { mode: "certificate" | "public_key"; refreshed: boolean; serials: string[] } | null;
  bill: BillCheckSummary;
  /** At most 50 item errors (the rest are counted in `failed`). */
  errors: ItemError[];
}

export const MAX_REPORTED_ERRORS = 50;

export const emptyStats = (): TaskStats => ({ scanned: 0, changed: 0, failed: 0 });

export async function startRun(db: Db, trigger: string, startedAt: number): Promise<number> {
  const [row] = await db.insert(reconcileRuns).values({ trigger, startedAt }).returning({ id: reconcileRuns.id });
  if (!row) throw new Error("reconcile_runs insert returned nothing");
  return row.id;
}

export async function finishRun(db: Db, report: ReconcileReport, finishedAt: number): Promise<void> {
  await db.update(reconcileRuns).set({ finishedAt, report: JSON.stringify(report) }).where(eq(reconcileRuns.id, report.runId));
}

/**
 * @module reconcile/report — the per-run report (SPEC §5: counts, errors, durations; §8: what the
 * run spent and, when a budget stopped it, what it left), stored in `reconcile_runs` (by
 * reconcile/lease.ts, with the lease release) and returned by `POST /admin/reconcile`.
 */
import type { Spent, StopReason, WorkersPlan } from "./budget";
import type { ItemError } from "./context";

export const TASKS = ["payingOrders", "expiredOrders", "refunds", "certificates", "fulfilments", "shipping", "bill"] as const;
export type TaskName = (typeof TASKS)[number];

export interface TaskStats {
  scanned: number;
  changed: number;
  failed: number;
}

export interface BillCheckSummary {
  /** not_due | already_checked | waiting | not_ready | deferred (no budget left this run) | partial (continues next run) | checked | failed */
  status: string;
  billDate: string | null;
  /** Rows of this merchant (appid and mchid ours). */
  rows?: number;
  /** Rows of another appid or mchid sharing the merchant id: counted, never compared. */
  foreign?: number;
  /** Differences written so far of `total` (when the check spans runs). */
  written?: number;
  total?: number;
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
  /** The plan's per-run limits, and what this run used of them (counted as sent). */
  budget: { plan: WorkersPlan; wallMs: number; limits: Spent; spent: Spent };
  /** Why the run stopped taking new work before it ran out of work; null when it did not. */
  stoppedEarly: StopReason | null;
  /** Per task, what it left for the next run: items it had selected, or "not_started". */
  left: Record<string, number | "not_started">;
}

export const MAX_REPORTED_ERRORS = 50;

export const emptyStats = (): TaskStats => ({ scanned: 0, changed: 0, failed: 0 });

/**
 * @module admin/runs — reconciliation runs (newest first, their report summarised) and the
 * dates the daily bill check has a stored result for.
 */
import { desc, like, lt } from "drizzle-orm";
import type { Db } from "../context";
import { kv, reconcileRuns } from "../db/schema";
import { kvDateKey } from "../reconcile/billcheck";
import { parseDetail } from "./queries";

export interface RunView {
  id: number;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  scanned: number | null;
  changed: number | null;
  failed: number | null;
  bill: unknown;
  errors: unknown[];
}

export async function listRuns(db: Db, q: { limit: number; cursor?: number | undefined }): Promise<{ runs: RunView[]; nextCursor: string | null }> {
  const rows = await db
    .select()
    .from(reconcileRuns)
    .where(q.cursor ? lt(reconcileRuns.id, q.cursor) : undefined)
    .orderBy(desc(reconcileRuns.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    runs: page.map((r) => {
      const report = (parseDetail(r.report) ?? {}) as { scanned?: number; changed?: number; failed?: number; bill?: unknown; errors?: unknown[] };
      return {
        id: r.id,
        trigger: r.trigger,
        startedAt: new Date(r.startedAt).toISOString(),
        finishedAt: r.finishedAt === null ? null : new Date(r.finishedAt).toISOString(),
        scanned: report.scanned ?? null,
        changed: report.changed ?? null,
        failed: report.failed ?? null,
        bill: report.bill ?? null,
        errors: report.errors ?? [],
      };
    }),
    nextCursor: rows.length > q.limit && last ? String(last.id) : null,
  };
}

/** The most recent bill dates with a stored check (newest first). */
export async function checkedBillDates(db: Db, limit = 30): Promise<string[]> {
  const prefix = kvDateKey("");
  const rows = await db
    .select({ key: kv.key })
    .from(kv)
    .where(like(kv.key, `${prefix}____-__-__`))
    .orderBy(desc(kv.key))
    .limit(limit);
  return rows.map((r) => r.key.slice(prefix.length));
}

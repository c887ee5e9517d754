/**
 * @module reconcile/billstore — writes one date's bill differences and their flags in chunks that
 * fit the run's budget, and remembers how far it got so the next run continues (SPEC §8).
 *
 * D1 binds at most 100 values per statement, so rows go in as ONE bound JSON array per statement
 * (`INSERT … SELECT … FROM json_each(?)`): a chunk of `DIFF_CHUNK` differences costs one statement
 * for `bill_diffs` and one for `flags`, whatever its size. Each chunk is one atomic batch with the
 * progress row (`bill_check.progress`: the date, the last key written), so a run that stops between
 * chunks — budget or crash — leaves a consistent cursor, and the next run writes the keys after it.
 *
 * Re-running a date replaces its differences: the first chunk of a fresh check deletes the date's
 * rows. Flags are never deleted (a human may be working on them) and never duplicated: each carries
 * `dedupe_key` = `bill|<date>|<kind>|<out_trade_no>|<out_refund_no>`, unique in `flags`. The key
 * includes out_refund_no so that two refunds of one order stay two differences.
 */
import { eq, inArray } from "drizzle-orm";
import { kv } from "../db/schema";
import { d1Of } from "../orders/repository";
import { type BatchStatement, runBatch } from "../refunds/statements";
import type { BillDiff } from "./billcompare";
import type { JobContext } from "./context";

export const KV_LAST_DATE = "bill_check.last_date";
export const KV_RETRY_AT = "bill_check.retry_at";
export const KV_PROGRESS = "bill_check.progress";
export const kvDateKey = (date: string) => `bill_check.${date}`;

/** Differences per statement: ~300 bytes each, so a chunk's JSON stays far below D1's 2 MB per value. */
export const DIFF_CHUNK = 200;
/** Statements of one chunk batch at most: [delete,] diffs, flags, then the progress — or, for the last, summary, last date, progress cleared. */
export const CHUNK_QUERIES = 6;

export interface BillProgress {
  date: string;
  /** The last diff key written (keys are written in sorted order). */
  cursor: string;
  written: number;
  total: number;
}

export type KeyedDiff = BillDiff & { key: string };

export const diffKey = (d: BillDiff): string => `${d.kind}|${d.outTradeNo ?? ""}|${d.outRefundNo ?? ""}`;

/** The diffs with their keys, one per key, in key order (the order chunks are written in). */
export function keyed(diffs: BillDiff[]): KeyedDiff[] {
  const byKey = new Map<string, KeyedDiff>();
  for (const d of diffs) {
    const key = diffKey(d);
    if (!byKey.has(key)) byKey.set(key, { ...d, key });
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const SQL = {
  clear: "DELETE FROM bill_diffs WHERE bill_date = ?",
  diffs:
    "INSERT INTO bill_diffs (bill_date, kind, out_trade_no, out_refund_no, detail, created_at, diff_key) " +
    "SELECT ?, json_extract(value, '$.kind'), json_extract(value, '$.outTradeNo'), json_extract(value, '$.outRefundNo'), " +
    "json_extract(value, '$.detail'), ?, json_extract(value, '$.key') FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
  flags:
    "INSERT INTO flags (order_id, kind, detail, at, dedupe_key) " +
    "SELECT json_extract(value, '$.orderId'), json_extract(value, '$.kind'), json_extract(value, '$.detail'), ?, json_extract(value, '$.dedupe') " +
    "FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
} as const;

export interface StoreResult {
  done: boolean;
  written: number;
}

/**
 * Writes `all` (keyed, sorted) from after `from.cursor` (or from the start, replacing the date's
 * rows), one chunk per batch while the budget allows; the last batch also stores `summary` and
 * marks the date checked. Returns whether everything is written.
 */
export async function storeDiffs(
  ctx: JobContext,
  date: string,
  all: KeyedDiff[],
  from: BillProgress | null,
  summary: Record<string, unknown>,
): Promise<StoreResult> {
  const d1 = d1Of(ctx.db);
  const pending = from ? all.filter((d) => d.key > from.cursor) : all;
  let written = from ? from.written : 0;
  let fresh = from === null;
  for (let i = 0; i === 0 || i < pending.length; i += DIFF_CHUNK) {
    if (!ctx.budget.canSpend(0, CHUNK_QUERIES)) {
      ctx.budget.leave("bill", pending.length - i);
      return { done: false, written };
    }
    const now = ctx.deps.clock.now();
    const chunk = pending.slice(i, i + DIFF_CHUNK);
    const last = i + DIFF_CHUNK >= pending.length;
    const statements: BatchStatement[] = fresh ? [d1.prepare(SQL.clear).bind(date)] : [];
    if (chunk.length > 0) {
      const rows = chunk.map((d) => ({ kind: d.kind, outTradeNo: d.outTradeNo, outRefundNo: d.outRefundNo, detail: JSON.stringify(d.detail), key: d.key }));
      const flags = chunk.map((d) => ({
        orderId: d.orderId,
        kind: `bill_${d.kind}`,
        detail: JSON.stringify({ billDate: date, outTradeNo: d.outTradeNo, outRefundNo: d.outRefundNo, ...d.detail }),
        dedupe: `bill|${date}|${d.key}`,
      }));
      statements.push(d1.prepare(SQL.diffs).bind(date, now, JSON.stringify(rows)), d1.prepare(SQL.flags).bind(now, JSON.stringify(flags)));
    }
    written += chunk.length;
    if (last) {
      statements.push(
        upsertKv(ctx, kvDateKey(date), JSON.stringify({ ...summary, checkedAt: new Date(now).toISOString() }), now),
        upsertKv(ctx, KV_LAST_DATE, date, now),
        ctx.db.delete(kv).where(eq(kv.key, KV_PROGRESS)),
      );
    } else {
      const progress: BillProgress = { date, cursor: chunk.at(-1)!.key, written, total: all.length };
      statements.push(upsertKv(ctx, KV_PROGRESS, JSON.stringify(progress), now));
    }
    await runBatch(ctx.db, statements);
    fresh = false;
  }
  return { done: true, written };
}

export function upsertKv(ctx: Pick<JobContext, "db">, key: string, value: string, now: number) {
  return ctx.db.insert(kv).values({ key, value, updatedAt: now }).onConflictDoUpdate({ target: kv.key, set: { value, updatedAt: now } });
}

export async function readKv(ctx: Pick<JobContext, "db">, keys: string[]): Promise<Map<string, string>> {
  const rows = await ctx.db.select().from(kv).where(inArray(kv.key, keys));
  return new Map(rows.map((r) => [r.key, r.value]));
}

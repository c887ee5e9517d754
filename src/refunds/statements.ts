/**
 * @module refunds/statements — raw D1 statements for writes drizzle cannot batch.
 *
 * The refund writes need `INSERT … SELECT … WHERE` guards (TOOLCHAIN.md: D1 batches are atomic,
 * and a row guarded by `EXISTS (… last_transition_id = ?)` exists only if this request won),
 * and drizzle 0.45 cannot put raw SQL in `db.batch`. So these writes go through `D1.batch`, and
 * statements a caller built with drizzle (e.g. the notification row) are converted with
 * `toD1Statement` so they can join the same atomic batch.
 */
import type { Db } from "../context";
import { d1Of } from "../orders/repository";

export { d1Of };

/** A drizzle query (anything with `toSQL()`) or a prepared D1 statement. */
export type BatchStatement = D1PreparedStatement | { toSQL(): { sql: string; params: unknown[] } };

export function toD1Statement(d1: D1Database, s: BatchStatement): D1PreparedStatement {
  if ("toSQL" in s && typeof s.toSQL === "function") {
    const q = s.toSQL();
    return d1.prepare(q.sql).bind(...q.params);
  }
  return s as D1PreparedStatement;
}

/** Runs the statements as one atomic D1 batch (nothing to do for an empty list). */
export async function runBatch(db: Db, statements: BatchStatement[]): Promise<D1Result[]> {
  if (statements.length === 0) return [];
  const d1 = d1Of(db);
  return d1.batch(statements.map((s) => toD1Statement(d1, s)));
}

/** A flag row, inserted only if the refund row carries `transitionId` (this request won). */
export function flagIfWon(
  d1: D1Database,
  f: { orderId: string | null; notificationId?: string | null; kind: string; detail: unknown; at: number },
  refundId: string,
  transitionId: string,
): D1PreparedStatement {
  return d1
    .prepare(
      "INSERT INTO flags (order_id, notification_id, kind, detail, at) SELECT ?, ?, ?, ?, ? " +
        "WHERE EXISTS (SELECT 1 FROM refunds WHERE id = ? AND last_transition_id = ?)",
    )
    .bind(f.orderId, f.notificationId ?? null, f.kind, JSON.stringify(f.detail ?? null), f.at, refundId, transitionId);
}

/** An unconditional flag row (something a human must look at, whatever else happens). */
export function flagRow(
  d1: D1Database,
  f: { orderId: string | null; notificationId?: string | null; kind: string; detail: unknown; at: number },
): D1PreparedStatement {
  return d1
    .prepare("INSERT INTO flags (order_id, notification_id, kind, detail, at) VALUES (?, ?, ?, ?, ?)")
    .bind(f.orderId, f.notificationId ?? null, f.kind, JSON.stringify(f.detail ?? null), f.at);
}

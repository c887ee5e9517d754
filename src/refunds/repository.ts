/**
 * @module refunds/repository — reading refunds, and the one atomic reservation that creates
 * them.
 *
 * `reserveRefund` is a single `INSERT … SELECT … WHERE` that inserts the PROCESSING row only if
 * the order is PAID/PARTIALLY_REFUNDED, fewer than 50 refunds exist, and the non-CLOSED refunds
 * plus this one do not exceed the order amount. D1 runs each statement atomically and writes
 * one at a time, so two concurrent reservations can never together exceed the amount paid.
 */
import { and, asc, eq, inArray, lte, or, isNotNull } from "drizzle-orm";
import type { Db } from "../context";
import { orders, refunds } from "../db/schema";
import { COUNTS_AGAINST_ORDER, MAX_REFUNDS_PER_ORDER } from "./state";
import { d1Of } from "./statements";

export type RefundRow = typeof refunds.$inferSelect;
export type OrderRow = typeof orders.$inferSelect;

export async function getRefund(db: Db, id: string): Promise<RefundRow | null> {
  const [row] = await db.select().from(refunds).where(eq(refunds.id, id));
  return row ?? null;
}

export async function getRefundByOutRefundNo(db: Db, outRefundNo: string): Promise<RefundRow | null> {
  const [row] = await db.select().from(refunds).where(eq(refunds.outRefundNo, outRefundNo));
  return row ?? null;
}

export async function getRefundByKey(db: Db, orderId: string, key: string): Promise<RefundRow | null> {
  const [row] = await db
    .select()
    .from(refunds)
    .where(and(eq(refunds.orderId, orderId), eq(refunds.idempotencyKey, key)));
  return row ?? null;
}

export async function getOrderRow(db: Db, id: string): Promise<OrderRow | null> {
  const [row] = await db.select().from(orders).where(eq(orders.id, id));
  return row ?? null;
}

export async function getOrderByOutTradeNo(db: Db, outTradeNo: string): Promise<OrderRow | null> {
  const [row] = await db.select().from(orders).where(eq(orders.outTradeNo, outTradeNo));
  return row ?? null;
}

/** An order's refunds, oldest first (one query). */
export function refundsOfOrder(db: Db, orderId: string): Promise<RefundRow[]> {
  return db.select().from(refunds).where(eq(refunds.orderId, orderId)).orderBy(asc(refunds.createdAt), asc(refunds.id));
}

/** Refunds the reconciler should query now: PROCESSING/ABNORMAL and due, oldest due first. */
export function dueRefunds(db: Db, now: number, limit: number): Promise<RefundRow[]> {
  return db
    .select()
    .from(refunds)
    .where(
      and(
        or(eq(refunds.status, "PROCESSING"), eq(refunds.status, "ABNORMAL")),
        isNotNull(refunds.nextCheckAt),
        lte(refunds.nextCheckAt, now),
      ),
    )
    .orderBy(asc(refunds.nextCheckAt), asc(refunds.id))
    .limit(limit);
}

export function refundsByOutRefundNos(db: Db, outRefundNos: string[]): Promise<RefundRow[]> {
  if (outRefundNos.length === 0) return Promise.resolve([]);
  return db.select().from(refunds).where(inArray(refunds.outRefundNo, outRefundNos));
}

export interface NewRefund {
  id: string;
  orderId: string;
  outRefundNo: string;
  amount: number;
  reason: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  nextCheckAt: number;
  now: number;
}

const IN_FLIGHT = COUNTS_AGAINST_ORDER.map((s) => `'${s}'`).join(", ");

/**
 * Inserts the PROCESSING refund if, at this instant, the order can take it. Returns false when
 * no row was inserted (order not refundable, amount too large, too many refunds, or another
 * request already used the same idempotency key).
 */
export async function reserveRefund(db: Db, r: NewRefund): Promise<boolean> {
  const row = await d1Of(db)
    .prepare(
      `INSERT INTO refunds (id, order_id, out_refund_no, amount, status, reason, idempotency_key, request_hash,
                            next_check_at, created_at, updated_at)
       SELECT ?1, o.id, ?2, ?3, 'PROCESSING', ?4, ?5, ?6, ?7, ?8, ?8
       FROM orders o
       WHERE o.id = ?9
         AND o.status IN ('PAID', 'PARTIALLY_REFUNDED')
         AND (SELECT COALESCE(SUM(x.amount), 0) FROM refunds x
              WHERE x.order_id = o.id AND x.status IN (${IN_FLIGHT})) + ?3 <= o.amount
         AND (SELECT COUNT(*) FROM refunds x WHERE x.order_id = o.id) < ${MAX_REFUNDS_PER_ORDER}
       ON CONFLICT DO NOTHING
       RETURNING id`,
    )
    .bind(r.id, r.outRefundNo, r.amount, r.reason, r.idempotencyKey, r.requestHash, r.nextCheckAt, r.now, r.orderId)
    .first<{ id: string }>();
  return row !== null;
}

/** What is still refundable, to explain a refused reservation. */
export async function refundHeadroom(
  db: Db,
  orderId: string,
): Promise<{ inFlightOrDone: number; count: number }> {
  const row = await d1Of(db)
    .prepare(
      `SELECT COALESCE(SUM(CASE WHEN status IN (${IN_FLIGHT}) THEN amount ELSE 0 END), 0) AS used, COUNT(*) AS n
       FROM refunds WHERE order_id = ?`,
    )
    .bind(orderId)
    .first<{ used: number; n: number }>();
  return { inFlightOrDone: row?.used ?? 0, count: row?.n ?? 0 };
}

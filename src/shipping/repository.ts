/**
 * @module shipping/repository — every read and write of `shippings`. Writes are conditional:
 * a request replaces the record only if it is still what the caller read (`updated_at`); an
 * upload attempt is claimed with a lease and its outcome written only by the lease holder;
 * flags are inserted in the same batch, only if the write before them changed a row.
 */
import { rowCodec, rowsOf } from "../db/rows";
import { shippings, type ShippingStatus } from "../db/schema";
import { ITEM } from "../orders/repository";
import type { OrderItemRow } from "../orders/repository";

export const SHIPPING = rowCodec(shippings);
export type ShippingRow = typeof shippings.$inferSelect;

const COLS = SHIPPING.columns;
const SQL = {
  byOrder: `SELECT ${COLS} FROM shippings WHERE order_id = ?`,
  /** A new shipment for the order: insert, or replace the record the caller read. */
  request:
    "INSERT INTO shippings (order_id, status, logistics_type, parcels, is_all_delivered, source, idempotency_key, request_hash, attempts, next_attempt_at, created_at, updated_at) " +
    "VALUES (?1, 'UPLOADING', ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8, ?8) " +
    "ON CONFLICT (order_id) DO UPDATE SET status = 'UPLOADING', logistics_type = ?2, parcels = ?3, is_all_delivered = ?4, source = ?5, " +
    "idempotency_key = ?6, request_hash = ?7, attempts = 0, last_error = NULL, next_attempt_at = ?8, updated_at = ?8 " +
    `WHERE shippings.updated_at = ?9 RETURNING ${COLS}`,
  /** The hook's shipment: only if the order has no record yet (exactly once). */
  requestIfNone:
    "INSERT INTO shippings (order_id, status, logistics_type, parcels, is_all_delivered, source, attempts, next_attempt_at, created_at, updated_at) " +
    `VALUES (?, 'UPLOADING', ?, ?, ?, 'hook', 0, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING RETURNING ${COLS}`,
  claim:
    "UPDATE shippings SET lease_until = ?1, attempts = attempts + 1, updated_at = ?2 " +
    "WHERE order_id = ?3 AND status = 'UPLOADING' AND next_attempt_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2) " +
    `RETURNING ${COLS}`,
  order: 'SELECT transaction_id AS "transactionId", openid, paid_at AS "paidAt", status, user_id AS "userId" FROM orders WHERE id = ?',
  items: `SELECT ${ITEM.columns} FROM order_items WHERE order_id = ? ORDER BY line`,
  flag: "INSERT INTO flags (order_id, kind, detail, at) SELECT ?, ?, ?, ? WHERE changes() > 0",
  due: 'SELECT order_id AS id, outcome_unknown AS "outcomeUnknown" FROM shippings WHERE status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?',
} as const;

export interface ClaimedUpload {
  row: ShippingRow;
  order: { transactionId: string | null; openid: string; paidAt: number | null; status: string; userId: string } | null;
  items: OrderItemRow[];
}

export async function findShipping(d1: D1Database, orderId: string): Promise<ShippingRow | undefined> {
  const row = await d1.prepare(SQL.byOrder).bind(orderId).first<Record<string, unknown>>();
  return row ? SHIPPING.decode(row) : undefined;
}

export interface ShipmentWrite {
  orderId: string;
  logisticsType: string;
  parcelsJson: string;
  isAllDelivered: boolean | null;
  now: number;
}

/** Records an admin's shipment; undefined when the record changed since `readUpdatedAt` was read. */
export async function writeShipmentRequest(
  d1: D1Database,
  w: ShipmentWrite & { idempotencyKey: string; requestHash: string; readUpdatedAt: number | null },
): Promise<ShippingRow | undefined> {
  const row = await d1
    .prepare(SQL.request)
    .bind(w.orderId, w.logisticsType, w.parcelsJson, w.isAllDelivered === null ? null : w.isAllDelivered ? 1 : 0, "admin", w.idempotencyKey, w.requestHash, w.now, w.readUpdatedAt ?? -1)
    .first<Record<string, unknown>>();
  return row ? SHIPPING.decode(row) : undefined;
}

/** Records the fulfilment hook's shipment unless the order already has a record. */
export async function writeHookShipment(d1: D1Database, w: ShipmentWrite): Promise<ShippingRow | undefined> {
  const row = await d1
    .prepare(SQL.requestIfNone)
    .bind(w.orderId, w.logisticsType, w.parcelsJson, w.isAllDelivered === null ? null : w.isAllDelivered ? 1 : 0, w.now, w.now, w.now)
    .first<Record<string, unknown>>();
  return row ? SHIPPING.decode(row) : undefined;
}

/** Claims a due upload (lease + one more attempt) with the paid order and its lines, in one round trip. */
export async function claimUpload(d1: D1Database, orderId: string, now: number, leaseUntil: number): Promise<ClaimedUpload | undefined> {
  const [claimed, order, items] = await d1.batch<Record<string, unknown>>([
    d1.prepare(SQL.claim).bind(leaseUntil, now, orderId),
    d1.prepare(SQL.order).bind(orderId),
    d1.prepare(SQL.items).bind(orderId),
  ]);
  const row = rowsOf(claimed)[0];
  if (!row) return undefined;
  return { row: SHIPPING.decode(row), order: (rowsOf(order)[0] as ClaimedUpload["order"]) ?? null, items: ITEM.decodeAll(rowsOf(items)) };
}

export type ShippingPatch = Partial<{
  status: ShippingStatus;
  attempts: number;
  uploads: number;
  lastError: string | null;
  outcomeUnknown: boolean;
  uploadTime: string | null;
  nextAttemptAt: number | null;
  uploadedAt: number | null;
  receivedAt: number | null;
  settledAt: number | null;
  lastCheckedAt: number | null;
  overdueFlaggedAt: number | null;
}>;

function setClause(patch: ShippingPatch, now: number): { sql: string; values: unknown[] } {
  const entries = Object.entries(patch) as [keyof ShippingPatch & string, unknown][];
  const parts = entries.map(([k]) => `${SHIPPING.column(k)} = ?`);
  const values = entries.map(([, v]) => (typeof v === "boolean" ? (v ? 1 : 0) : v));
  return { sql: [...parts, "updated_at = ?"].join(", "), values: [...values, now] };
}

export interface FlagWrite {
  kind: string;
  detail: Record<string, unknown>;
}

/**
 * Writes `patch` if `guard` still holds (`lease_until = ?` for an upload's holder, or
 * `status = ?` for a refresh), with the flag in the same batch (only if the update won).
 * Returns whether it won.
 */
export async function patchShipping(
  d1: D1Database,
  orderId: string,
  guard: { leaseUntil: number } | { status: ShippingStatus },
  patch: ShippingPatch & { releaseLease?: boolean },
  now: number,
  flag: FlagWrite | null = null,
): Promise<boolean> {
  const { releaseLease, ...rest } = patch;
  const set = setClause(rest, now);
  const where = "leaseUntil" in guard ? "lease_until = ?" : "status = ?";
  const stmts = [
    d1
      .prepare(`UPDATE shippings SET ${set.sql}${releaseLease ? ", lease_until = NULL" : ""} WHERE order_id = ? AND ${where}`)
      .bind(...set.values, orderId, "leaseUntil" in guard ? guard.leaseUntil : guard.status),
  ];
  if (flag) stmts.push(d1.prepare(SQL.flag).bind(orderId, flag.kind, JSON.stringify(flag.detail), now));
  const [res] = await d1.batch(stmts);
  return (res?.meta.changes ?? 0) > 0;
}

/** Records in `status` that are due (`next_attempt_at`), oldest first: the order id, and whether the last upload's outcome is unknown. */
export async function dueShippings(d1: D1Database, status: ShippingStatus, now: number, limit: number): Promise<{ id: string; outcomeUnknown: boolean }[]> {
  const { results } = await d1.prepare(SQL.due).bind(status, now, limit).all<{ id: string; outcomeUnknown: number }>();
  return results.map((r) => ({ id: r.id, outcomeUnknown: r.outcomeUnknown === 1 }));
}

/**
 * @module admin/queries — the read side of the admin API: order lists (keyset pagination on
 * `orders_status_created` / `orders_created`, newest first) and one order with everything that
 * happened to it. A fixed number of queries per request, never one per row.
 */
import { and, asc, desc, eq, lt, or, type SQL } from "drizzle-orm";
import type { Db } from "../context";
import { billDiffs, flags, fulfilments, notifications, orderEvents, orders, type OrderStatus } from "../db/schema";
import { AppError } from "../errors";
import { decodeCursor, encodeCursor, toOrderView, type OrderView } from "../orders/format";
import { findOrderById, itemsForOrders } from "../orders/repository";
import { refundsOfOrder } from "../refunds/repository";
import { serializeRefund, type RefundJson } from "../refunds/serialize";

export interface AdminOrderList {
  orders: OrderView[];
  nextCursor: string | null;
}

export async function listOrdersForAdmin(
  db: Db,
  q: { status?: OrderStatus | undefined; limit: number; cursor?: string | undefined },
): Promise<AdminOrderList> {
  const after = q.cursor ? decodeCursor(q.cursor) : null;
  if (q.cursor && !after) throw new AppError("invalid_request", "cursor: not a cursor from a previous page");
  const conds: SQL[] = [];
  if (q.status) conds.push(eq(orders.status, q.status));
  if (after) {
    const older = or(lt(orders.createdAt, after.createdAt), and(eq(orders.createdAt, after.createdAt), lt(orders.id, after.id)));
    if (older) conds.push(older);
  }
  const rows = await db
    .select()
    .from(orders)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const items = await itemsForOrders(db, page.map((r) => r.id));
  const last = page[page.length - 1];
  return {
    orders: page.map((r) => toOrderView(r, items.get(r.id) ?? [])),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null,
  };
}

export interface AdminOrderDetail {
  order: OrderView;
  history: { from: string; to: string; source: string; at: string; detail: unknown }[];
  refunds: RefundJson[];
  notifications: { id: string; eventType: string; receivedAt: string; outcome: string }[];
  flags: { kind: string; detail: unknown; at: string; resolvedAt: string | null }[];
  fulfilment: { status: string; attempts: number; lastError: string | null; nextAttemptAt: string; doneAt: string | null } | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

function parseDetail(s: string | null): unknown {
  if (s === null) return null;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
}

export async function orderDetailForAdmin(db: Db, orderId: string): Promise<AdminOrderDetail> {
  const order = await findOrderById(db, orderId);
  if (!order) throw new AppError("not_found", "order not found");
  const [items, events, refundRows, notes, flagRows, fulfilmentRows] = await Promise.all([
    itemsForOrders(db, [order.id]),
    db.select().from(orderEvents).where(eq(orderEvents.orderId, order.id)).orderBy(asc(orderEvents.id)),
    refundsOfOrder(db, order.id),
    db
      .select({ id: notifications.id, eventType: notifications.eventType, receivedAt: notifications.receivedAt, outcome: notifications.outcome })
      .from(notifications)
      .where(eq(notifications.orderId, order.id))
      .orderBy(asc(notifications.receivedAt)),
    db.select().from(flags).where(eq(flags.orderId, order.id)).orderBy(asc(flags.at), asc(flags.id)),
    db.select().from(fulfilments).where(eq(fulfilments.orderId, order.id)),
  ]);
  const f = fulfilmentRows[0];
  return {
    order: toOrderView(order, items.get(order.id) ?? []),
    history: events.map((e) => ({ from: e.fromStatus, to: e.toStatus, source: e.source, at: iso(e.at), detail: parseDetail(e.detail) })),
    refunds: refundRows.map(serializeRefund),
    notifications: notes.map((n) => ({ id: n.id, eventType: n.eventType, receivedAt: iso(n.receivedAt), outcome: n.outcome })),
    flags: flagRows.map((r) => ({ kind: r.kind, detail: parseDetail(r.detail), at: iso(r.at), resolvedAt: r.resolvedAt === null ? null : iso(r.resolvedAt) })),
    fulfilment: f
      ? {
          status: f.status,
          attempts: f.attempts,
          lastError: f.lastError,
          nextAttemptAt: iso(f.nextAttemptAt),
          doneAt: f.doneAt === null ? null : iso(f.doneAt),
        }
      : null,
  };
}

/** Differences the daily bill check stored for one bill date. */
export async function billDiffsForDate(db: Db, billDate: string) {
  const rows = await db.select().from(billDiffs).where(eq(billDiffs.billDate, billDate)).orderBy(asc(billDiffs.id));
  return rows.map((r) => ({
    kind: r.kind,
    outTradeNo: r.outTradeNo,
    outRefundNo: r.outRefundNo,
    detail: parseDetail(r.detail),
    at: iso(r.createdAt),
  }));
}

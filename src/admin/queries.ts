/**
 * @module admin/queries — the read side of the admin API: order lists (keyset pagination on
 * `orders_status_created` / `orders_created`, newest first) and one order with everything that
 * happened to it. A fixed number of queries per request, never one per row.
 */
import { and, asc, desc, eq, gte, lt, or, type SQL } from "drizzle-orm";
import type { Db } from "../context";
import { billDiffs, flags, fulfilments, notifications, orderEvents, orders, type OrderStatus } from "../db/schema";
import { AppError } from "../errors";
import { decodeCursor, encodeCursor, toOrderView, type OrderView } from "../orders/format";
import { d1Of, findOrderById, itemsForOrders, type OrderRow } from "../orders/repository";
import { shanghaiDayBounds } from "../reconcile/schedule";
import type { Config } from "../config";
import { findShipping } from "../shipping/repository";
import { adminShipping, type AdminShipping } from "../shipping/view";
import { maskedPhoneOf } from "../users/phone";
import { refundsOfOrder } from "../refunds/repository";
import { serializeRefund, type RefundJson } from "../refunds/serialize";

/** An order as the admin API shows it: the public shape plus the payer's openid. */
export type AdminOrderView = OrderView & { openid: string };

export interface AdminOrderList {
  orders: AdminOrderView[];
  nextCursor: string | null;
}

/**
 * The admin order filter (SPEC §10): status; `q` = exactly an order id, out_trade_no,
 * transaction_id or openid (each has an index); `from`/`to` = Asia/Shanghai dates of creation,
 * both included.
 */
export interface OrderFilter {
  status?: OrderStatus | undefined;
  q?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

function filterConditions(f: OrderFilter): SQL[] {
  const conds: SQL[] = [];
  if (f.status) conds.push(eq(orders.status, f.status));
  const q = f.q?.trim();
  if (q) conds.push(or(eq(orders.id, q), eq(orders.outTradeNo, q), eq(orders.transactionId, q), eq(orders.openid, q))!);
  for (const [name, date] of [["from", f.from], ["to", f.to]] as const) {
    if (!date) continue;
    const day = shanghaiDayBounds(date);
    if (!day) throw new AppError("invalid_request", `${name}: not a date (YYYY-MM-DD)`);
    conds.push(name === "from" ? gte(orders.createdAt, day.start) : lt(orders.createdAt, day.end));
  }
  return conds;
}

/** One page of filtered order rows, newest first (keyset pagination). */
export async function orderRowsPage(db: Db, f: OrderFilter, limit: number, cursor: string | undefined): Promise<{ rows: OrderRow[]; nextCursor: string | null }> {
  const after = cursor ? decodeCursor(cursor) : null;
  if (cursor && !after) throw new AppError("invalid_request", "cursor: not a cursor from a previous page");
  const conds = filterConditions(f);
  if (after) conds.push(or(lt(orders.createdAt, after.createdAt), and(eq(orders.createdAt, after.createdAt), lt(orders.id, after.id)))!);
  const rows = await db
    .select()
    .from(orders)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

export async function listOrdersForAdmin(db: Db, q: OrderFilter & { limit: number; cursor?: string | undefined }): Promise<AdminOrderList> {
  const { rows, nextCursor } = await orderRowsPage(db, q, q.limit, q.cursor);
  const items = await itemsForOrders(db, rows.map((r) => r.id));
  return { orders: rows.map((r) => ({ ...toOrderView(r, items.get(r.id) ?? []), openid: r.openid })), nextCursor };
}

export interface AdminOrderDetail {
  order: AdminOrderView;
  history: { from: string; to: string; source: string; at: string; detail: unknown }[];
  refunds: RefundJson[];
  notifications: { id: string; eventType: string; receivedAt: string; outcome: string }[];
  flags: FlagView[];
  fulfilment: { status: string; attempts: number; lastError: string | null; nextAttemptAt: string; doneAt: string | null } | null;
  /** SPEC §9: the shipping record (contacts masked); null while the order is not paid. */
  shipping: AdminShipping | null;
  /** The buyer's phone number, masked (`138****1234`); null when not shared. */
  buyerPhone: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function flagView(r: typeof flags.$inferSelect) {
  return { id: r.id, orderId: r.orderId, kind: r.kind, detail: parseDetail(r.detail), at: iso(r.at), resolvedAt: r.resolvedAt === null ? null : iso(r.resolvedAt), note: r.resolutionNote };
}
export type FlagView = ReturnType<typeof flagView>;

export function parseDetail(s: string | null): unknown {
  if (s === null) return null;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
}

export async function orderDetailForAdmin(db: Db, orderId: string, config: Config): Promise<AdminOrderDetail> {
  const order = await findOrderById(db, orderId);
  if (!order) throw new AppError("not_found", "order not found");
  const [items, events, refundRows, notes, flagRows, fulfilmentRows, shippingRow, buyerPhone] = await Promise.all([
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
    findShipping(d1Of(db), order.id),
    maskedPhoneOf(db, config, order.userId),
  ]);
  const f = fulfilmentRows[0];
  return {
    order: { ...toOrderView(order, items.get(order.id) ?? []), openid: order.openid },
    history: events.map((e) => ({ from: e.fromStatus, to: e.toStatus, source: e.source, at: iso(e.at), detail: parseDetail(e.detail) })),
    refunds: refundRows.map(serializeRefund),
    notifications: notes.map((n) => ({ id: n.id, eventType: n.eventType, receivedAt: iso(n.receivedAt), outcome: n.outcome })),
    flags: flagRows.map(flagView),
    fulfilment: f
      ? {
          status: f.status,
          attempts: f.attempts,
          lastError: f.lastError,
          nextAttemptAt: iso(f.nextAttemptAt),
          doneAt: f.doneAt === null ? null : iso(f.doneAt),
        }
      : null,
    shipping: adminShipping(order.status, shippingRow),
    buyerPhone,
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

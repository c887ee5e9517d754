/**
 * @module orders/repository — every read and write of orders, order_items and order_events.
 *
 * The one status writer is `writeTransition`: a conditional
 * `UPDATE orders SET status = ?, …patch, last_transition_id = ? WHERE id = ? AND status = ? RETURNING *`
 * in one D1 batch with the audit row, the fulfilment outbox row (when the order becomes PAID),
 * flags, and the caller's extra statements. Rows that must exist only if *this* request won are
 * inserted with `INSERT … SELECT … WHERE EXISTS (SELECT 1 FROM orders WHERE id = ? AND
 * last_transition_id = ?)`, the token being random per attempt (TOOLCHAIN.md: `WHERE EXISTS (…
 * status = 'PAID')` would let the loser insert too). Zero rows updated means someone else won:
 * the caller re-reads and re-decides.
 *
 * Raw SQL goes through `d1Of(db)` (drizzle's `$client`) (the D1 binding) because drizzle's `db.batch` cannot carry
 * raw statements (TOOLCHAIN.md, drizzle 0.45 quirk).
 */
import { and, desc, eq, getTableColumns, inArray, isNull, lte, or, lt, sql } from "drizzle-orm";
import type { Db } from "../context";
import { type ChangeSource, orderItems, orders } from "../db/schema";
import type { Status } from "./state";

export type OrderRow = typeof orders.$inferSelect;
export type NewOrderRow = typeof orders.$inferInsert;
export type OrderItemRow = typeof orderItems.$inferSelect;
export type NewOrderItem = Omit<OrderItemRow, "orderId">;

// ---------------------------------------------------------------------------------------------
// Creation and reads
// ---------------------------------------------------------------------------------------------

/**
 * Stores the order and its lines in one atomic batch and returns the stored row (`RETURNING`, so
 * no read-back). Throws on a UNIQUE violation (see `isUniqueViolation`).
 */
export async function insertOrder(db: Db, order: NewOrderRow, items: NewOrderItem[]): Promise<OrderRow> {
  const [inserted] = await db.batch([
    db.insert(orders).values(order).returning(),
    db.insert(orderItems).values(items.map((it) => ({ ...it, orderId: order.id }))),
  ]);
  const row = inserted[0];
  if (!row) throw new Error(`order ${order.id} not returned by its insert`);
  return row;
}

/** D1 reports UNIQUE violations only as message text (TOOLCHAIN.md); drizzle may wrap it in `cause`. */
export function isUniqueViolation(err: unknown, column?: string): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const m = e.message;
    if (m.includes("UNIQUE constraint failed") && (column === undefined || m.includes(column))) return true;
  }
  return false;
}

export async function findOrderById(db: Db, id: string): Promise<OrderRow | undefined> {
  const [row] = await db.select().from(orders).where(eq(orders.id, id)).limit(1);
  return row;
}

/** Another user's order is simply not found (SPEC §3: 404, never 403). */
export async function findOrderForUser(db: Db, id: string, userId: string): Promise<OrderRow | undefined> {
  const [row] = await db.select().from(orders).where(and(eq(orders.id, id), eq(orders.userId, userId))).limit(1);
  return row;
}

export async function findOrderByOutTradeNo(db: Db, outTradeNo: string): Promise<OrderRow | undefined> {
  const [row] = await db.select().from(orders).where(eq(orders.outTradeNo, outTradeNo)).limit(1);
  return row;
}

export async function findOrderByIdempotencyKey(db: Db, userId: string, key: string): Promise<OrderRow | undefined> {
  const [row] = await db
    .select()
    .from(orders)
    .where(and(eq(orders.userId, userId), eq(orders.idempotencyKey, key)))
    .limit(1);
  return row;
}

/** The lines of several orders in one query, grouped by order id, in line order. */
export async function itemsForOrders(db: Db, orderIds: string[]): Promise<Map<string, OrderItemRow[]>> {
  const out = new Map<string, OrderItemRow[]>();
  if (orderIds.length === 0) return out;
  const rows = await db
    .select()
    .from(orderItems)
    .where(inArray(orderItems.orderId, orderIds))
    .orderBy(orderItems.orderId, orderItems.line);
  for (const r of rows) {
    const list = out.get(r.orderId);
    if (list) list.push(r);
    else out.set(r.orderId, [r]);
  }
  return out;
}

/**
 * The order if it is the user's, with its lines, in ONE D1 round trip (a batch of two reads in
 * one transaction). The lines are read by order id alone and dropped when the order is not the
 * user's, so another user's order yields nothing.
 */
export async function findOrderWithItemsForUser(
  db: Db,
  id: string,
  userId: string,
): Promise<{ order: OrderRow; items: OrderItemRow[] } | undefined> {
  const [rows, items] = await db.batch([
    db.select().from(orders).where(and(eq(orders.id, id), eq(orders.userId, userId))).limit(1),
    db.select().from(orderItems).where(eq(orderItems.orderId, id)).orderBy(orderItems.line),
  ]);
  const order = rows[0];
  return order ? { order, items } : undefined;
}

/** Position after which the next page starts: the last row's (createdAt, id). */
export interface ListCursor {
  createdAt: number;
  id: string;
}

/**
 * A user's orders, newest first, keyset-paginated on the index orders_user_created
 * (user_id, created_at, id). Fetches `limit + 1` rows to know whether another page exists.
 */
export async function listOrdersForUser(
  db: Db,
  userId: string,
  limit: number,
  after: ListCursor | null,
): Promise<{ rows: OrderRow[]; more: boolean }> {
  const where = after
    ? and(
        eq(orders.userId, userId),
        or(lt(orders.createdAt, after.createdAt), and(eq(orders.createdAt, after.createdAt), lt(orders.id, after.id))),
      )
    : eq(orders.userId, userId);
  const rows = await db
    .select()
    .from(orders)
    .where(where)
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}

/**
 * `listOrdersForUser` and the lines of that page in ONE D1 round trip: the lines are selected
 * with the page as a subquery (same WHERE, ORDER BY and LIMIT, on orders_user_created), in the
 * same batch — one transaction, so both reads see the same page.
 */
export async function listOrdersWithItemsForUser(
  db: Db,
  userId: string,
  limit: number,
  after: ListCursor | null,
): Promise<{ rows: OrderRow[]; more: boolean; items: Map<string, OrderItemRow[]> }> {
  const where = after
    ? and(
        eq(orders.userId, userId),
        or(lt(orders.createdAt, after.createdAt), and(eq(orders.createdAt, after.createdAt), lt(orders.id, after.id))),
      )
    : eq(orders.userId, userId);
  const page = db.select({ id: orders.id }).from(orders).where(where).orderBy(desc(orders.createdAt), desc(orders.id)).limit(limit);
  const [rows, itemRows] = await db.batch([
    db.select().from(orders).where(where).orderBy(desc(orders.createdAt), desc(orders.id)).limit(limit + 1),
    db.select().from(orderItems).where(inArray(orderItems.orderId, page)).orderBy(orderItems.orderId, orderItems.line),
  ]);
  const items = new Map<string, OrderItemRow[]>();
  for (const r of itemRows) {
    const list = items.get(r.orderId);
    if (list) list.push(r);
    else items.set(r.orderId, [r]);
  }
  return { rows: rows.slice(0, limit), more: rows.length > limit, items };
}

// ---------------------------------------------------------------------------------------------
// Small conditional claims (bookkeeping, not status changes)
// ---------------------------------------------------------------------------------------------

/**
 * Takes the prepay lock if it is free (or expired) and the order is still payable. Exactly one
 * of several concurrent callers gets the row back; the others get undefined.
 */
export async function claimPrepayLock(db: Db, orderId: string, now: number, until: number): Promise<OrderRow | undefined> {
  const [row] = await db
    .update(orders)
    .set({ prepayLockUntil: until })
    .where(
      and(
        eq(orders.id, orderId),
        inArray(orders.status, ["CREATED", "PAYING"]),
        or(isNull(orders.prepayLockUntil), lte(orders.prepayLockUntil, now)),
      ),
    )
    .returning();
  return row;
}

/** Releases the lock we took (matched by its exact value, so a later holder's lock survives). */
export async function releasePrepayLock(db: Db, orderId: string, lockUntil: number): Promise<void> {
  await db
    .update(orders)
    .set({ prepayLockUntil: null })
    .where(and(eq(orders.id, orderId), eq(orders.prepayLockUntil, lockUntil)));
}

/**
 * Claims the right to query WeChat for this order now: at most once per `intervalMs` per order,
 * whoever asks (sync, cron). Returns the order if this caller may query.
 */
export async function claimQuery(
  db: Db,
  orderId: string,
  statuses: Status[],
  now: number,
  intervalMs: number,
): Promise<OrderRow | undefined> {
  const [row] = await db
    .update(orders)
    .set({ lastQueryAt: now, queryCount: sql`${orders.queryCount} + 1` })
    .where(
      and(
        eq(orders.id, orderId),
        inArray(orders.status, statuses),
        or(isNull(orders.lastQueryAt), lte(orders.lastQueryAt, now - intervalMs)),
      ),
    )
    .returning();
  return row;
}

// ---------------------------------------------------------------------------------------------
// THE transition writer
// ---------------------------------------------------------------------------------------------

/** Columns a transition may set besides status (never id, user, amount, out_trade_no, …). */
export type TransitionPatch = Partial<
  Pick<
    OrderRow,
    | "prepayId"
    | "prepayAt"
    | "prepayLockUntil"
    | "transactionId"
    | "paidAt"
    | "refundedAmount"
    | "lastQueryAt"
    | "nextCheckAt"
  >
>;

const PATCHABLE: ReadonlySet<keyof TransitionPatch> = new Set([
  "prepayId",
  "prepayAt",
  "prepayLockUntil",
  "transactionId",
  "paidAt",
  "refundedAmount",
  "lastQueryAt",
  "nextCheckAt",
]);

const COLUMNS = getTableColumns(orders);
type OrderKey = keyof typeof COLUMNS;
/** SQL column name → OrderRow property, to read `RETURNING *` rows. */
const KEY_BY_COLUMN = new Map<string, OrderKey>(
  (Object.keys(COLUMNS) as OrderKey[]).map((k) => [COLUMNS[k].name, k]),
);

function rowFromSql(raw: Record<string, unknown>): OrderRow {
  const out: Record<string, unknown> = {};
  for (const [col, value] of Object.entries(raw)) {
    const key = KEY_BY_COLUMN.get(col);
    if (key) out[key] = value;
  }
  return out as OrderRow;
}

/**
 * The D1 binding behind a drizzle handle (`drizzle(env.DB)` keeps it as `$client`; the app's
 * `Db` type does not declare it).
 */
export function d1Of(db: Db): D1Database {
  const client = (db as Db & { $client?: D1Database }).$client;
  if (!client || typeof client.batch !== "function") throw new Error("drizzle handle has no D1 $client");
  return client;
}

/** A flag row to insert only if the transition wins. */
export interface TransitionFlagRow {
  kind: string;
  detail: unknown;
  notificationId?: string | null;
}

export interface TransitionRequest {
  orderId: string;
  /** The status the caller read; the UPDATE matches only if it is still this. */
  from: Status;
  /**
   * Optional stronger guard: the `lastTransitionId` the caller read (null for a fresh order).
   * When given, the UPDATE also requires it unchanged, so a concurrent *same-status* change
   * (PAYING → PAYING prepay refresh, PARTIALLY_REFUNDED → PARTIALLY_REFUNDED) also makes this
   * attempt lose and re-decide. `applyEvent` always passes it.
   */
  expectTransitionId?: string | null;
  /**
   * Further conditions the UPDATE must meet, ANDed into its WHERE (e.g. the refund writer's
   * "refunded_amount is still what I read and the refund is still PROCESSING"). SQL with `?`
   * placeholders and their values; never user text in `sql`.
   */
  guards?: { sql: string; params: unknown[] }[];
  to: Status;
  patch?: TransitionPatch;
  source: ChangeSource;
  /** Free-form context for the audit row (JSON); never secrets. */
  detail?: Record<string, unknown>;
  /** Flags for a human, written only if this request wins. */
  flags?: TransitionFlagRow[];
  /**
   * Caller statements for the same atomic batch, run after the UPDATE *whether or not it wins*
   * (e.g. the notification log). To make one conditional on winning, build it with
   * `onlyIfWon(token)` — the token is passed to the function form.
   */
  extra?: D1PreparedStatement[] | ((token: string) => D1PreparedStatement[]);
  /** Epoch ms (from the injected clock). */
  now: number;
  /** A fresh random token for this attempt (`newId(random, "trn")`). */
  token: string;
}

export type TransitionResult = { won: true; order: OrderRow } | { won: false };

/** SQL suffix `WHERE EXISTS (…)` that is true only inside the batch whose UPDATE wrote `token`. */
export const WON_GUARD = "EXISTS (SELECT 1 FROM orders WHERE id = ? AND last_transition_id = ?)";

/**
 * THE status writer. One atomic D1 batch:
 *   1. `UPDATE orders SET status = to, …patch, last_transition_id = token, updated_at = now
 *       WHERE id = ? AND status = from [AND last_transition_id IS expected] RETURNING *`
 *   2. the audit row (order_events), only if 1 won;
 *   3. when `to` is PAID: the fulfilment outbox row (PENDING, due now; ON CONFLICT DO NOTHING),
 *      only if 1 won;
 *   4. flags, only if 1 won;
 *   5. the caller's `extra` statements (unconditional unless built with the token).
 * Returns the updated row, or `{won:false}` when the order was no longer in `from`.
 */
export async function writeTransition(db: Db, req: TransitionRequest): Promise<TransitionResult> {
  const d1 = d1Of(db);
  const sets = ["status = ?", "last_transition_id = ?", "updated_at = ?"];
  const params: unknown[] = [req.to, req.token, req.now];
  for (const [key, value] of Object.entries(req.patch ?? {}) as [keyof TransitionPatch, unknown][]) {
    if (!PATCHABLE.has(key) || value === undefined) continue;
    sets.push(`${COLUMNS[key].name} = ?`);
    params.push(value);
  }
  const where = ["id = ?", "status = ?"];
  const whereParams: unknown[] = [req.orderId, req.from];
  if (req.expectTransitionId !== undefined) {
    where.push("last_transition_id IS ?");
    whereParams.push(req.expectTransitionId);
  }
  for (const g of req.guards ?? []) {
    where.push(`(${g.sql})`);
    whereParams.push(...g.params);
  }
  const update = d1
    .prepare(`UPDATE orders SET ${sets.join(", ")} WHERE ${where.join(" AND ")} RETURNING *`)
    .bind(...params, ...whereParams);

  const guard = [req.orderId, req.token];
  const statements: D1PreparedStatement[] = [
    update,
    d1
      .prepare(
        `INSERT INTO order_events (order_id, from_status, to_status, source, detail, at) SELECT ?, ?, ?, ?, ?, ? WHERE ${WON_GUARD}`,
      )
      .bind(req.orderId, req.from, req.to, req.source, req.detail ? JSON.stringify(req.detail) : null, req.now, ...guard),
  ];
  if (req.to === "PAID") {
    statements.push(
      d1
        .prepare(
          "INSERT INTO fulfilments (order_id, status, attempts, next_attempt_at, created_at) " +
            `SELECT ?, 'PENDING', 0, ?, ? WHERE ${WON_GUARD} ON CONFLICT (order_id) DO NOTHING`,
        )
        .bind(req.orderId, req.now, req.now, ...guard),
    );
  }
  for (const f of req.flags ?? []) {
    statements.push(
      d1
        .prepare(`INSERT INTO flags (order_id, notification_id, kind, detail, at) SELECT ?, ?, ?, ?, ? WHERE ${WON_GUARD}`)
        .bind(req.orderId, f.notificationId ?? null, f.kind, JSON.stringify(f.detail ?? null), req.now, ...guard),
    );
  }
  const extra = typeof req.extra === "function" ? req.extra(req.token) : req.extra;
  statements.push(...(extra ?? []));

  const results = await d1.batch<Record<string, unknown>>(statements);
  const row = results[0]?.results?.[0];
  return row ? { won: true, order: rowFromSql(row) } : { won: false };
}

/**
 * Flags written outside a transition (a transaction that does not match its order), in one
 * batch with the caller's extra statements.
 */
export async function insertFlags(
  db: Db,
  orderId: string | null,
  rows: TransitionFlagRow[],
  now: number,
  extra: D1PreparedStatement[] = [],
): Promise<void> {
  const d1 = d1Of(db);
  const statements = rows.map((f) =>
    d1
      .prepare("INSERT INTO flags (order_id, notification_id, kind, detail, at) VALUES (?, ?, ?, ?, ?)")
      .bind(orderId, f.notificationId ?? null, f.kind, JSON.stringify(f.detail ?? null), now),
  );
  statements.push(...extra);
  if (statements.length > 0) await d1.batch(statements);
}

/**
 * @module orders/repository — every read and write of orders, order_items and order_events.
 *
 * The one status writer is `writeTransition`: a conditional
 * `UPDATE orders SET status = ?, …patch, last_transition_id = ? WHERE id = ? AND status = ? RETURNING <every column>`
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
import { and, eq, getTableColumns, inArray, isNull, lte, or, sql } from "drizzle-orm";
import type { Db } from "../context";
import { type BatchGuard, rowCodec, rowsOf } from "../db/rows";
import { FULFILMENT_LEASE_MS } from "../fulfilment/lease";
import { type ChangeSource, type LogisticsType, orderItems, orders, type ShippingStatus } from "../db/schema";
import type { Status } from "./state";

export type OrderRow = typeof orders.$inferSelect;
export type NewOrderRow = typeof orders.$inferInsert;
export type OrderItemRow = typeof orderItems.$inferSelect;
export type NewOrderItem = Omit<OrderItemRow, "orderId">;

// ---------------------------------------------------------------------------------------------
// Creation and reads — fixed SQL built once from the schema (db/rows.ts): these run on every
// create, get, list and notification, where drizzle's per-call query building cost more CPU
// than D1 itself (bench/RESULTS.md).
// ---------------------------------------------------------------------------------------------

export const ORDER = rowCodec(orders);
export const ITEM = rowCodec(orderItems);

const ORDER_COLS = ORDER.columns;
const SQL = {
  byId: `SELECT ${ORDER_COLS} FROM orders WHERE id = ? LIMIT 1`,
  byIdForUser: `SELECT ${ORDER_COLS} FROM orders WHERE id = ? AND user_id = ? LIMIT 1`,
  byOutTradeNo: `SELECT ${ORDER_COLS} FROM orders WHERE out_trade_no = ? LIMIT 1`,
  byIdempotencyKey: `SELECT ${ORDER_COLS} FROM orders WHERE user_id = ? AND idempotency_key = ? LIMIT 1`,
  itemsOf: `SELECT ${ITEM.columns} FROM order_items WHERE order_id = ? ORDER BY line`,
  /** What the buyer sees of the order's shipping (SPEC §9), read in the same batch as the order. */
  shippingOf: 'SELECT status, logistics_type AS "logisticsType", parcels FROM shippings WHERE order_id = ?',
  /** A user's page (newest first) on orders_user_created; `%AFTER%` is the keyset condition or nothing. */
  page: `SELECT ${ORDER_COLS} FROM orders WHERE user_id = ?%AFTER% ORDER BY created_at DESC, id DESC LIMIT ?`,
  pageIds: `SELECT id FROM orders WHERE user_id = ?%AFTER% ORDER BY created_at DESC, id DESC LIMIT ?`,
  insertItems: `INSERT INTO order_items (${ITEM.names}) VALUES `,
} as const;
const KEYSET = " AND (created_at < ? OR (created_at = ? AND id < ?))";
const PAGE_FIRST = SQL.page.replace("%AFTER%", "");
const PAGE_AFTER = SQL.page.replace("%AFTER%", KEYSET);
const ITEMS_OF_PAGE_FIRST = `SELECT ${ITEM.columns} FROM order_items WHERE order_id IN (${SQL.pageIds.replace("%AFTER%", "")}) ORDER BY order_id, line`;
const ITEMS_OF_PAGE_AFTER = `SELECT ${ITEM.columns} FROM order_items WHERE order_id IN (${SQL.pageIds.replace("%AFTER%", KEYSET)}) ORDER BY order_id, line`;

/** The hot reads' SQL, for the query-plan test (test/unit/db/rows.test.ts). */
export const HOT_READS = {
  byId: SQL.byId,
  byIdForUser: SQL.byIdForUser,
  byOutTradeNo: SQL.byOutTradeNo,
  byIdempotencyKey: SQL.byIdempotencyKey,
  itemsOf: SQL.itemsOf,
  shippingOf: SQL.shippingOf,
  pageFirst: PAGE_FIRST,
  pageAfter: PAGE_AFTER,
  itemsOfPageFirst: ITEMS_OF_PAGE_FIRST,
  itemsOfPageAfter: ITEMS_OF_PAGE_AFTER,
} as const;

/** Every column of a new order, in ORDER.columns order, for the INSERT. */
const ORDER_KEYS = Object.keys(getTableColumns(orders)) as (keyof OrderRow)[];
const INSERT_ORDER = `INSERT INTO orders (${ORDER.names}) VALUES (${ORDER_KEYS.map(() => "?").join(", ")}) RETURNING ${ORDER_COLS}`;
/** 16 lines × 6 columns = 96 bound values, under D1's limit of 100 per statement. */
const ITEMS_PER_INSERT = 16;
/** Column defaults the INSERT must supply itself (it lists every column). */
const ORDER_DEFAULTS: Partial<OrderRow> = { currency: "CNY", refundedAmount: 0, queryCount: 0 };

/**
 * The order INSERT when the user may hold at most N unpaid orders: the row is inserted only if
 * fewer than N of the user's orders are CREATED/PAYING, counted (at most N index entries, on
 * orders_user_status) by the same statement. One statement, and D1 runs writes one at a time:
 * concurrent creates cannot both pass the count, so the limit holds exactly.
 */
const INSERT_ORDER_UNDER_LIMIT =
  `INSERT INTO orders (${ORDER.names}) SELECT ${ORDER_KEYS.map(() => "?").join(", ")} ` +
  "WHERE (SELECT count(*) FROM (SELECT 1 FROM orders WHERE user_id = ? AND status IN ('CREATED', 'PAYING') LIMIT ?)) < ? " +
  `RETURNING ${ORDER_COLS}`;
/** Lines inserted only if their order was (its insert may have been refused in the same batch). */
const INSERT_ITEMS_IF_ORDER = (rows: number) =>
  `INSERT INTO order_items (${ITEM.names}) SELECT * FROM (VALUES ${Array(rows).fill("(?, ?, ?, ?, ?, ?)").join(", ")}) ` +
  "WHERE EXISTS (SELECT 1 FROM orders WHERE id = ?)";

/**
 * Stores the order and its lines in one atomic batch and returns the stored row (`RETURNING`, so
 * no read-back). With `maxUnpaid` > 0 the insert is refused — nothing written, `undefined`
 * returned — when the user already holds that many CREATED/PAYING orders. Throws on a UNIQUE
 * violation (see `isUniqueViolation`).
 */
export async function insertOrder(db: Db, order: NewOrderRow, items: NewOrderItem[], maxUnpaid = 0): Promise<OrderRow | undefined> {
  const d1 = d1Of(db);
  const values = ORDER_KEYS.map((k) => (order as Partial<OrderRow>)[k] ?? ORDER_DEFAULTS[k] ?? null);
  const limited = maxUnpaid > 0;
  // Lines as multi-row INSERTs of at most ITEMS_PER_INSERT rows: D1 binds at most 100 values per statement.
  const itemInserts: D1PreparedStatement[] = [];
  for (let i = 0; i < items.length; i += ITEMS_PER_INSERT) {
    const chunk = items.slice(i, i + ITEMS_PER_INSERT);
    const params = chunk.flatMap((it) => [order.id, it.line, it.productId, it.name, it.quantity, it.unitPrice]);
    itemInserts.push(
      limited
        ? d1.prepare(INSERT_ITEMS_IF_ORDER(chunk.length)).bind(...params, order.id)
        : d1.prepare(`${SQL.insertItems}${chunk.map(() => "(?, ?, ?, ?, ?, ?)").join(", ")}`).bind(...params),
    );
  }
  const insert = limited
    ? d1.prepare(INSERT_ORDER_UNDER_LIMIT).bind(...values, order.userId, maxUnpaid, maxUnpaid)
    : d1.prepare(INSERT_ORDER).bind(...values);
  const [inserted] = await d1.batch([insert, ...itemInserts]);
  const row = rowsOf(inserted)[0];
  if (!row) {
    if (limited) return undefined;
    throw new Error(`order ${order.id} not returned by its insert`);
  }
  return ORDER.decode(row);
}

/** D1 reports UNIQUE violations only as message text (TOOLCHAIN.md); drizzle may wrap it in `cause`. */
export function isUniqueViolation(err: unknown, column?: string): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const m = e.message;
    if (m.includes("UNIQUE constraint failed") && (column === undefined || m.includes(column))) return true;
  }
  return false;
}

async function firstOrder(db: Db, sql: string, ...params: unknown[]): Promise<OrderRow | undefined> {
  const row = await d1Of(db).prepare(sql).bind(...params).first<Record<string, unknown>>();
  return row ? ORDER.decode(row) : undefined;
}

export const findOrderById = (db: Db, id: string): Promise<OrderRow | undefined> => firstOrder(db, SQL.byId, id);

/** Another user's order is simply not found (SPEC §3: 404, never 403). */
export const findOrderForUser = (db: Db, id: string, userId: string): Promise<OrderRow | undefined> =>
  firstOrder(db, SQL.byIdForUser, id, userId);

export const findOrderByOutTradeNo = (db: Db, outTradeNo: string): Promise<OrderRow | undefined> =>
  firstOrder(db, SQL.byOutTradeNo, outTradeNo);

export const findOrderByIdempotencyKey = (db: Db, userId: string, key: string): Promise<OrderRow | undefined> =>
  firstOrder(db, SQL.byIdempotencyKey, userId, key);

/** The statement reading a user's order by idempotency key, for callers that batch it with others. */
export const orderByIdempotencyKeyStatement = (db: Db, userId: string, key: string): D1PreparedStatement =>
  d1Of(db).prepare(SQL.byIdempotencyKey).bind(userId, key);

/** The statement reading an order by out_trade_no, for callers that batch it with others. */
export const orderByOutTradeNoStatement = (db: Db, outTradeNo: string): D1PreparedStatement =>
  d1Of(db).prepare(SQL.byOutTradeNo).bind(outTradeNo);

/** Groups item rows (ordered by order id, line) by order id. */
function groupItems(rows: readonly Record<string, unknown>[]): Map<string, OrderItemRow[]> {
  const out = new Map<string, OrderItemRow[]>();
  for (const raw of rows) {
    const r = ITEM.decode(raw);
    const list = out.get(r.orderId);
    if (list) list.push(r);
    else out.set(r.orderId, [r]);
  }
  return out;
}

/** The lines of several orders in one query, grouped by order id, in line order. */
export async function itemsForOrders(db: Db, orderIds: string[]): Promise<Map<string, OrderItemRow[]>> {
  if (orderIds.length === 0) return new Map();
  const { results } = await d1Of(db)
    .prepare(`SELECT ${ITEM.columns} FROM order_items WHERE order_id IN (${orderIds.map(() => "?").join(", ")}) ORDER BY order_id, line`)
    .bind(...orderIds)
    .all<Record<string, unknown>>();
  return groupItems(results);
}

/** The buyer's view of a shipping record's columns (status, logisticsType, parcels JSON). */
export interface ShippingSummaryRow {
  status: ShippingStatus;
  logisticsType: LogisticsType | null;
  parcels: string | null;
}

/**
 * The order if it is the user's, with its lines and its shipping record, in ONE D1 round trip
 * (a batch of reads in one transaction, with the caller's session guard when given). The lines and the shipping are read by order id
 * alone and dropped when the order is not the user's, so another user's order yields nothing.
 */
export async function findOrderWithItemsForUser(
  db: Db,
  id: string,
  userId: string,
  guard?: BatchGuard,
): Promise<{ order: OrderRow; items: OrderItemRow[]; shipping: ShippingSummaryRow | null } | undefined> {
  const d1 = d1Of(db);
  const [rows, items, shipping, checked] = await d1.batch([
    d1.prepare(SQL.byIdForUser).bind(id, userId),
    d1.prepare(SQL.itemsOf).bind(id),
    d1.prepare(SQL.shippingOf).bind(id),
    ...(guard ? [guard.statement(d1)] : []),
  ]);
  guard?.verify(checked);
  const order = rowsOf(rows)[0];
  if (!order) return undefined;
  return { order: ORDER.decode(order), items: ITEM.decodeAll(rowsOf(items)), shipping: (rowsOf(shipping)[0] as ShippingSummaryRow | undefined) ?? null };
}

/** Position after which the next page starts: the last row's (createdAt, id). */
export interface ListCursor {
  createdAt: number;
  id: string;
}

/**
 * A user's orders, newest first, keyset-paginated on the index orders_user_created
 * (user_id, created_at, id), and the lines of that page, in ONE D1 round trip: the lines are
 * selected with the page as a subquery (same WHERE, ORDER BY and LIMIT) in the same batch — one
 * transaction, so both reads see the same page. Fetches `limit + 1` orders to know whether
 * another page exists.
 */
export async function listOrdersWithItemsForUser(
  db: Db,
  userId: string,
  limit: number,
  after: ListCursor | null,
  guard?: BatchGuard,
): Promise<{ rows: OrderRow[]; more: boolean; items: Map<string, OrderItemRow[]> }> {
  const d1 = d1Of(db);
  const keyset = after ? [after.createdAt, after.createdAt, after.id] : [];
  const [page, lines, checked] = await d1.batch([
    d1.prepare(after ? PAGE_AFTER : PAGE_FIRST).bind(userId, ...keyset, limit + 1),
    d1.prepare(after ? ITEMS_OF_PAGE_AFTER : ITEMS_OF_PAGE_FIRST).bind(userId, ...keyset, limit),
    ...(guard ? [guard.statement(d1)] : []),
  ]);
  guard?.verify(checked);
  const rows = rowsOf(page);
  return { rows: ORDER.decodeAll(rows.slice(0, limit)), more: rows.length > limit, items: groupItems(rowsOf(lines)) };
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
    | "prepayIssuedAt"
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
  "prepayIssuedAt",
  "prepayLockUntil",
  "transactionId",
  "paidAt",
  "refundedAmount",
  "lastQueryAt",
  "nextCheckAt",
]);

const COLUMNS = getTableColumns(orders);

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
  /**
   * When the order becomes PAID: insert its fulfilment outbox row already claimed by this
   * request (RUNNING, attempt 1, leased for FULFILMENT_LEASE_MS) and read its lines in the same
   * batch, so the caller runs the hook right after its response with no further round trip but
   * the outcome's. If the request dies first, the lease expires and the cron job takes over.
   */
  claimFulfilment?: boolean;
  /** Epoch ms (from the injected clock). */
  now: number;
  /** A fresh random token for this attempt (`newId(random, "trn")`). */
  token: string;
}

/** An outbox row this request inserted already claimed (see `claimFulfilment`). */
export interface ClaimedFulfilment {
  attempts: number;
  items: OrderItemRow[];
}

export type TransitionResult = { won: true; order: OrderRow; fulfilment: ClaimedFulfilment | null } | { won: false };

/** SQL suffix `WHERE EXISTS (…)` that is true only inside the batch whose UPDATE wrote `token`. */
export const WON_GUARD = "EXISTS (SELECT 1 FROM orders WHERE id = ? AND last_transition_id = ?)";

/**
 * A condition (SQL and its parameters) true only inside the batch whose UPDATE won: for a
 * caller's row that must be stored together with the change and not otherwise, as
 * `INSERT … SELECT … WHERE ${sql}`.
 */
export interface WonCondition {
  sql: string;
  params: unknown[];
}

export const wonBy = (orderId: string, token: string): WonCondition => ({ sql: WON_GUARD, params: [orderId, token] });

/**
 * THE status writer. One atomic D1 batch:
 *   1. `UPDATE orders SET status = to, …patch, last_transition_id = token, updated_at = now
 *       WHERE id = ? AND status = from [AND last_transition_id IS expected] RETURNING <every column>`
 *   2. the audit row (order_events), only if 1 won;
 *   3. when `to` is PAID: the fulfilment outbox row (PENDING, due now; ON CONFLICT DO NOTHING),
 *      only if 1 won — or, with `claimFulfilment`, RUNNING and claimed by this request, with
 *      the order's lines read in the same batch;
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
    .prepare(`UPDATE orders SET ${sets.join(", ")} WHERE ${where.join(" AND ")} RETURNING ${ORDER.columns}`)
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
  // Index in `statements` of the claimed outbox insert (its lines follow it), or -1.
  let claimAt = -1;
  if (req.to === "PAID" && req.claimFulfilment) {
    claimAt = statements.length;
    statements.push(
      d1
        .prepare(
          "INSERT INTO fulfilments (order_id, status, attempts, next_attempt_at, lease_until, created_at) " +
            `SELECT ?, 'RUNNING', 1, ?, ?, ? WHERE ${WON_GUARD} ON CONFLICT (order_id) DO NOTHING`,
        )
        .bind(req.orderId, req.now, req.now + FULFILMENT_LEASE_MS, req.now, ...guard),
      d1.prepare(SQL.itemsOf).bind(req.orderId),
    );
  } else if (req.to === "PAID") {
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
  if (!row) return { won: false };
  // Claimed only if our insert wrote the row (an outbox row left from an earlier PAID stays its owner's).
  const claimed = claimAt >= 0 && (results[claimAt]?.meta.changes ?? 0) === 1;
  return {
    won: true,
    order: ORDER.decode(row),
    fulfilment: claimed ? { attempts: 1, items: ITEM.decodeAll(rowsOf(results[claimAt + 1])) } : null,
  };
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

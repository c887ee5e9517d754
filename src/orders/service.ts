/**
 * @module orders/service — the mini-program use cases (SPEC §3): create (price, store, prepay),
 * pay again, read (with an optional WeChat sync), list, cancel.
 *
 * Outcome classes of every WeChat call (STYLE practice 7): success; a definite refusal
 * (`ApiError`, 4xx) → 502 `payment_provider_error` carrying WeChat's code, the order kept
 * payable; indeterminate (`IndeterminateError`: timeout, network, 5xx/429 after the client's
 * retries, an unverifiable answer) → 502 too, the order left as it was — never treated as
 * failed, a later `/pay` repeats the prepay with identical parameters, and the reconciler or a
 * notification settles the rest. Every status change goes through `applyEvent` /
 * `applyTransaction` (apply.ts).
 */
import type { Config } from "../config";
import type { AppDeps, Db, SessionUser } from "../context";
import { activeProductsStatement, type Product } from "../catalogue/products";
import { type BatchGuard, rowsOf } from "../db/rows";
import { AppError } from "../errors";
import type { Logger } from "../lib/log";
import { enforceRateLimit, takeHit } from "../lib/ratelimit";
import { newId } from "../lib/random";
import { ApiError, IndeterminateError, WechatPayError } from "../wechat/pay/errors";
import type { JsapiPrepayRequest, RequestPaymentParams, WechatPayPort } from "../wechat/pay/port";
import { type ApplyContext, type ApplyResult, applyEvent, applyTransaction } from "./apply";
import {
  buildDescription,
  decodeCursor,
  encodeCursor,
  formatTimeExpire,
  newOutTradeNo,
  type OrderView,
  requestHash,
  toOrderView,
} from "./format";
import {
  claimPrepayLock,
  claimQuery,
  d1Of,
  findOrderById,
  findOrderByIdempotencyKey,
  ORDER,
  orderByIdempotencyKeyStatement,
  findOrderForUser,
  findOrderWithItemsForUser,
  insertOrder,
  isUniqueViolation,
  itemsForOrders,
  listOrdersWithItemsForUser,
  type NewOrderItem,
  type OrderItemRow,
  type OrderRow,
  releasePrepayLock,
} from "./repository";
import { isPaid, isPayable } from "./state";
import { publicShipping } from "../shipping/view";

/**
 * WeChat keeps a prepay_id valid for 2 h from when it issued it (D.3); we hand it out until 10 min
 * before that, then ask WeChat again (which may answer the same id while it lives, or a new one).
 */
export const PREPAY_REUSE_MS = 2 * 3600_000 - 10 * 60_000;
/** How long one request may hold the prepay lock (client timeouts and retries fit well inside). */
export const PREPAY_LOCK_MS = 30_000;
/** A request that finds the lock taken polls this often, this many times (~10 s), then gives up. */
export const PREPAY_POLL_MS = 200;
export const PREPAY_MAX_POLLS = 50;
/** `?sync=true` asks WeChat at most this often per order… */
export const SYNC_INTERVAL_MS = 5_000;
/** …and at most this many times a second per user, whatever the number of orders. */
export const SYNC_PER_USER_PER_SECOND = 2;
/** The reconciler looks at a PAYING order this long after its prepay if no notification came. */
export const FIRST_CHECK_DELAY_MS = 60_000;

/** WeChat Pay as the orders need it (built from `createWechatPay`). */
export interface PaymentGateway {
  port: WechatPayPort;
  requestPayment(prepayId: string): Promise<RequestPaymentParams>;
}

export interface OrdersContext {
  db: Db;
  deps: AppDeps;
  config: Config;
  log: Logger;
  /** WeChat Pay, built on first use (keys are imported lazily). */
  pay(): PaymentGateway;
  /** Called once when a request of ours turned an order PAID (starts fulfilment after the response). */
  onPaid?(orderId: string): void;
  /**
   * The session check to fold into the first D1 batch of create, get and list (auth/session.ts);
   * absent when the route's middleware already made it.
   */
  sessionGuard?: BatchGuard;
}

export interface CreateOrderInput {
  items: { productId: string; quantity: number }[];
}

export interface OrderWithPayment {
  order: OrderView;
  payment: RequestPaymentParams;
}

const applyCtx = (ctx: OrdersContext): ApplyContext => ({
  db: ctx.db,
  clock: ctx.deps.clock,
  random: ctx.deps.random,
  merchant: { appid: ctx.config.appid, mchid: ctx.config.mchid },
  log: ctx.log,
});

const notPayable = (o: OrderRow, why = `it is ${o.status}`) =>
  new AppError("order_not_payable", `order ${o.id} cannot be paid: ${why}`);

// ---------------------------------------------------------------------------------------------
// POST /v1/orders
// ---------------------------------------------------------------------------------------------

/**
 * Prices the items from the catalogue, stores the order (CREATED, prepay lock held), prepays,
 * and answers 201 with payment params. With an Idempotency-Key, a repeat of the same body
 * answers 200 with the same order (retrying the prepay if it is still CREATED, waiting for a
 * concurrent first request instead of prepaying twice); another body is 409.
 */
export async function createOrder(
  ctx: OrdersContext,
  user: SessionUser,
  input: CreateOrderInput,
  idempotencyKey: string | null,
): Promise<{ created: boolean } & OrderWithPayment> {
  const { db, deps, config } = ctx;
  const hash = await requestHash(input.items);

  // One round trip reads what decides the request before anything is written (rate-limit
  // counter included): the session check, an earlier order with this key, the catalogue.
  const first = await readBeforeCreate(ctx, user, input, idempotencyKey);
  if (first.existing) return { created: false, ...(await repeatCreate(ctx, first.existing, hash)) };
  const products = new Map(first.products.map((p) => [p.id, p]));
  const lines: NewOrderItem[] = input.items.map((item, index) => {
    const p = products.get(item.productId);
    if (!p) throw new AppError("invalid_request", `items.${index}.productId: unknown or inactive product`);
    if (p.currency !== "CNY") throw new AppError("invalid_request", `items.${index}.productId: only CNY products can be paid with WeChat Pay`);
    return { line: index + 1, productId: p.id, name: p.name, quantity: item.quantity, unitPrice: p.price };
  });
  const amount = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);

  await enforceRateLimit(d1Of(db), deps.clock, `orders:user:${user.id}`, config.orderRateLimit, "orders");

  const now = deps.clock.now();
  const expiresAt = Math.floor((now + config.orderTtlSeconds * 1000) / 1000) * 1000;
  const lockUntil = now + PREPAY_LOCK_MS;
  const base = {
    userId: user.id,
    // The payer is the session's openid, never anything from the client (SPEC §6).
    openid: user.openid,
    status: "CREATED" as const,
    amount,
    currency: "CNY",
    description: buildDescription(lines),
    timeExpire: formatTimeExpire(expiresAt),
    expiresAt,
    // Stored with the order so every repeat prepay is byte-identical even after WXPAY_NOTIFY_URL changes.
    notifyUrl: config.notifyUrl,
    prepayLockUntil: lockUntil,
    idempotencyKey,
    requestHash: idempotencyKey === null ? null : hash,
    createdAt: now,
    updatedAt: now,
  };

  let order: OrderRow | undefined;
  for (let attempt = 1; !order; attempt++) {
    const row = { ...base, id: newId(deps.random, "ord"), outTradeNo: newOutTradeNo(deps.random, now) };
    try {
      order = await insertOrder(db, row, lines, config.maxUnpaidOrders);
      if (!order) {
        throw new AppError(
          "too_many_unpaid_orders",
          `you already have ${config.maxUnpaidOrders} unpaid orders; pay or cancel one (POST /v1/orders/{id}/cancel) first`,
        );
      }
    } catch (err) {
      if (idempotencyKey !== null && isUniqueViolation(err, "idempotency_key")) {
        // A concurrent request with the same key stored its order first: answer as a repeat.
        const winner = await findOrderByIdempotencyKey(db, user.id, idempotencyKey);
        if (winner) return { created: false, ...(await repeatCreate(ctx, winner, hash)) };
      }
      if (attempt < 3 && isUniqueViolation(err, "out_trade_no")) continue;
      throw err;
    }
  }
  // Debug: the orders row and its order_events rows are the record (README, LOG_LEVEL).
  ctx.log.debug("order created", { orderId: order.id, outTradeNo: order.outTradeNo, amount, lines: lines.length });

  const prepaid = await prepayHoldingLock(ctx, order, lockUntil);
  // The lines were just stored: the view is built from them, without reading them back.
  const stored = lines.map((l) => ({ ...l, orderId: prepaid.order.id }));
  return { created: true, ...(await withPayment(ctx, prepaid.order, prepaid.prepayId, stored)) };
}

/** The session guard, an order stored earlier under this key, and the active products asked for: one batch. */
async function readBeforeCreate(
  ctx: OrdersContext,
  user: SessionUser,
  input: CreateOrderInput,
  idempotencyKey: string | null,
): Promise<{ existing: OrderRow | undefined; products: Product[] }> {
  const d1 = d1Of(ctx.db);
  const statements = [activeProductsStatement(d1, input.items.map((i) => i.productId))];
  if (ctx.sessionGuard) statements.push(ctx.sessionGuard.statement(d1));
  if (idempotencyKey !== null) statements.push(orderByIdempotencyKeyStatement(ctx.db, user.id, idempotencyKey));
  const results = await d1.batch<Record<string, unknown>>(statements);
  if (ctx.sessionGuard) ctx.sessionGuard.verify(results[1]);
  const existing = idempotencyKey === null ? undefined : rowsOf(results[statements.length - 1])[0];
  return { existing: existing ? ORDER.decode(existing) : undefined, products: rowsOf(results[0]) as unknown as Product[] };
}

async function repeatCreate(ctx: OrdersContext, existing: OrderRow, hash: string): Promise<OrderWithPayment> {
  if (existing.requestHash !== hash) {
    throw new AppError("idempotency_conflict", "this Idempotency-Key was used with another request body; use a new key for a new order");
  }
  const ready = await ensurePrepay(ctx, existing);
  return withPayment(ctx, ready.order, ready.prepayId);
}

// ---------------------------------------------------------------------------------------------
// POST /v1/orders/:id/pay
// ---------------------------------------------------------------------------------------------

export async function payOrder(ctx: OrdersContext, user: SessionUser, orderId: string): Promise<OrderWithPayment> {
  const order = await findOrderForUser(ctx.db, orderId, user.id);
  if (!order) throw new AppError("not_found", "order not found");
  const ready = await ensurePrepay(ctx, order);
  return withPayment(ctx, ready.order, ready.prepayId);
}

function assertPayable(o: OrderRow, now: number): void {
  if (!isPayable(o.status)) throw notPayable(o);
  if (now >= o.expiresAt) throw notPayable(o, "it has expired (time_expire passed)");
}

/**
 * When WeChat first returned the stored prepay_id. Orders from before migration 0004 have no
 * `prepayIssuedAt`; their `prepayAt` (the latest prepay call) is the best we know.
 */
const prepayIssuedAt = (o: OrderRow): number | null => o.prepayIssuedAt ?? o.prepayAt;

/** A stored prepay_id we may hand out: the order is PAYING and WeChat issued the id < 1 h 50 min ago. */
const prepayFresh = (o: OrderRow, now: number): o is OrderRow & { prepayId: string } => {
  const issuedAt = prepayIssuedAt(o);
  return o.status === "PAYING" && !!o.prepayId && issuedAt !== null && now - issuedAt < PREPAY_REUSE_MS;
};

/**
 * A usable prepay_id for a payable order: the stored one while fresh, otherwise a prepay under
 * the lock. If another request holds the lock, wait for it (polling) rather than prepaying
 * concurrently; if it finished, use its prepay_id; if it failed, take the lock and try again.
 */
async function ensurePrepay(ctx: OrdersContext, order: OrderRow): Promise<{ order: OrderRow; prepayId: string }> {
  let current = order;
  for (let poll = 0; ; poll++) {
    const now = ctx.deps.clock.now();
    assertPayable(current, now);
    if (prepayFresh(current, now)) return { order: current, prepayId: current.prepayId };
    const lockUntil = now + PREPAY_LOCK_MS;
    const claimed = await claimPrepayLock(ctx.db, current.id, now, lockUntil);
    if (claimed) {
      if (prepayFresh(claimed, now)) {
        // Someone finished between our read and our claim.
        await releasePrepayLock(ctx.db, claimed.id, lockUntil);
        return { order: claimed, prepayId: claimed.prepayId };
      }
      return prepayHoldingLock(ctx, claimed, lockUntil);
    }
    if (poll >= PREPAY_MAX_POLLS) {
      throw new AppError("unavailable", "another request is preparing the payment of this order; retry in a moment", { retryAfter: 1 });
    }
    await ctx.deps.sleep(PREPAY_POLL_MS);
    const reread = await findOrderById(ctx.db, current.id);
    if (!reread) throw new AppError("not_found", "order not found");
    current = reread;
  }
}

/** The JSAPI prepay body: always built from the stored order, so every repeat is identical (D.2). */
export function prepayRequest(config: Config, o: OrderRow): JsapiPrepayRequest {
  return {
    appid: config.appid,
    mchid: config.mchid,
    description: o.description,
    out_trade_no: o.outTradeNo,
    time_expire: o.timeExpire,
    // The URL stored at creation; only orders from before migration 0004 fall back to the config.
    notify_url: o.notifyUrl ?? config.notifyUrl,
    amount: { total: o.amount, currency: "CNY" },
    payer: { openid: o.openid },
  };
}

async function prepayHoldingLock(ctx: OrdersContext, order: OrderRow, lockUntil: number): Promise<{ order: OrderRow; prepayId: string }> {
  let prepayId: string;
  try {
    ({ prepay_id: prepayId } = await ctx.pay().port.jsapiPrepay(prepayRequest(ctx.config, order)));
  } catch (err) {
    await releasePrepayLock(ctx.db, order.id, lockUntil).catch((e: unknown) => ctx.log.error("prepay lock release failed", { orderId: order.id, error: e }));
    throw await prepayFailure(ctx, order, err);
  }
  const now = ctx.deps.clock.now();
  // A repeat that answers the id we hold does not make it younger: its 2 h count from its first issue.
  const sameId = prepayId === order.prepayId;
  const r = await applyEvent(applyCtx(ctx), order, { type: "PREPAY_ISSUED" }, "api", {
    patch: {
      prepayId,
      prepayAt: now,
      prepayIssuedAt: sameId ? (prepayIssuedAt(order) ?? now) : now,
      prepayLockUntil: null,
      nextCheckAt: now + FIRST_CHECK_DELAY_MS,
    },
    detail: order.prepayId ? { prepay: "repeated", sameId } : { prepay: "first" },
  });
  if (r.outcome !== "applied") {
    // Closed or paid while we were at WeChat: the prepay_id is of no use.
    await releasePrepayLock(ctx.db, order.id, lockUntil);
    throw notPayable(r.order);
  }
  return { order: r.order, prepayId };
}

/** WeChat codes saying the out_trade_no is already paid, closed or used: look before answering. */
const ALREADY_SETTLED_CODES = new Set(["ORDER_PAID", "ORDERPAID", "ORDER_CLOSED", "OUT_TRADE_NO_USED", "TRADE_ERROR"]);

async function prepayFailure(ctx: OrdersContext, order: OrderRow, err: unknown): Promise<unknown> {
  const keep = `order ${order.id} is kept: pay it later with POST /v1/orders/${order.id}/pay`;
  if (err instanceof ApiError) {
    ctx.log.warn("prepay refused", { orderId: order.id, status: err.status, code: err.code, wechatRequestId: err.requestId });
    if (ALREADY_SETTLED_CODES.has(err.code)) {
      const synced = await syncWithWechat(ctx, order).catch(() => null);
      if (synced && !isPayable(synced.order.status)) return notPayable(synced.order);
    }
    return new AppError("payment_provider_error", `WeChat Pay refused the prepay: ${err.code} (${err.wechatMessage}); ${keep}`, { cause: err });
  }
  if (err instanceof IndeterminateError) {
    ctx.log.warn("prepay indeterminate", { orderId: order.id, status: err.status, reason: err.message });
    return new AppError("payment_provider_error", `WeChat Pay did not answer definitively; ${keep}`, { cause: err });
  }
  if (err instanceof WechatPayError) {
    return new AppError("payment_provider_error", `WeChat Pay call failed (${err.code}); ${keep}`, { cause: err });
  }
  return err;
}

async function withPayment(ctx: OrdersContext, order: OrderRow, prepayId: string, items?: OrderItemRow[]): Promise<OrderWithPayment> {
  const [view, payment] = await Promise.all([
    items ? toOrderView(order, items) : viewOf(ctx, order),
    ctx.pay().requestPayment(prepayId),
  ]);
  return { order: view, payment };
}

// ---------------------------------------------------------------------------------------------
// GET /v1/orders/:id[?sync=true] and GET /v1/orders
// ---------------------------------------------------------------------------------------------

export async function getOrder(ctx: OrdersContext, user: SessionUser, orderId: string, sync: boolean): Promise<OrderView> {
  // The order and its lines in one D1 round trip; lines never change, so a sync reuses them.
  const found = await findOrderWithItemsForUser(ctx.db, orderId, user.id, ctx.sessionGuard);
  if (!found) throw new AppError("not_found", "order not found");
  let order = found.order;
  if (sync && order.status === "PAYING" && (await mayQueryForUser(ctx, user))) {
    const claimed = await claimQuery(ctx.db, order.id, ["PAYING"], ctx.deps.clock.now(), SYNC_INTERVAL_MS);
    if (claimed) {
      try {
        order = (await syncWithWechat(ctx, claimed)).order;
      } catch (err) {
        if (!(err instanceof WechatPayError)) throw err;
        // The stored state is still true as far as we know; the reconciler will ask again.
        ctx.log.warn("order sync failed", { orderId: order.id, code: err.code, reason: err.message });
      }
    }
  }
  return { ...toOrderView(order, found.items), shipping: publicShipping(order.status, found.shipping) };
}

/**
 * The per-user ceiling on `?sync=true` queries (SPEC §11): WeChat's query frequency limits are
 * per merchant, and the per-order 5 s alone would let one user with hundreds of unpaid orders
 * send hundreds of queries a second. Past it the order is answered from D1; a refused hit writes
 * nothing (lib/ratelimit.ts).
 */
async function mayQueryForUser(ctx: OrdersContext, user: SessionUser): Promise<boolean> {
  const ok = await takeHit(d1Of(ctx.db), ctx.deps.clock, `sync:user:${user.id}`, SYNC_PER_USER_PER_SECOND, 1000);
  if (!ok) ctx.log.info("order sync skipped: per-user ceiling", { userId: user.id });
  return ok;
}

/** Queries WeChat and applies the answer through the one path (source "query"). */
async function syncWithWechat(ctx: OrdersContext, order: OrderRow): Promise<ApplyResult> {
  const tx = await ctx.pay().port.queryByOutTradeNo(order.outTradeNo);
  const r = await applyTransaction(applyCtx(ctx), order, tx, "query");
  if (r.outcome === "applied" && r.becamePaid) ctx.onPaid?.(r.order.id);
  return r;
}

export async function listOrders(
  ctx: OrdersContext,
  user: SessionUser,
  limit: number,
  cursor: string | null,
): Promise<{ orders: OrderView[]; nextCursor: string | null }> {
  const after = cursor === null ? null : decodeCursor(cursor);
  if (cursor !== null && after === null) throw new AppError("invalid_request", "cursor: not a cursor from a previous page");
  const { rows, more, items } = await listOrdersWithItemsForUser(ctx.db, user.id, limit, after, ctx.sessionGuard);
  const last = rows[rows.length - 1];
  return {
    orders: rows.map((r) => toOrderView(r, items.get(r.id) ?? [])),
    nextCursor: more && last ? encodeCursor(last) : null,
  };
}

async function viewOf(ctx: OrdersContext, order: OrderRow): Promise<OrderView> {
  const items = await itemsForOrders(ctx.db, [order.id]);
  return toOrderView(order, items.get(order.id) ?? []);
}

// ---------------------------------------------------------------------------------------------
// POST /v1/orders/:id/cancel
// ---------------------------------------------------------------------------------------------

/**
 * CLOSED: answered as is. CREATED (never reached WeChat): closed locally. PAYING: closed at
 * WeChat first (ORDER_CLOSED counts as closed), then locally. If WeChat refuses because the user
 * paid meanwhile, the order is synced to PAID and the answer is 409 order_not_payable.
 */
export async function cancelOrder(ctx: OrdersContext, user: SessionUser, orderId: string): Promise<OrderView> {
  let order = await findOrderForUser(ctx.db, orderId, user.id);
  if (!order) throw new AppError("not_found", "order not found");
  const actx = applyCtx(ctx);
  for (let round = 0; round < 4; round++) {
    if (isPaid(order.status)) throw notPayable(order, "it is already paid; ask for a refund instead");
    if (order.status === "CLOSED") return viewOf(ctx, order);
    if (order.status === "CREATED") {
      const r = await applyEvent(actx, order, { type: "CANCELLED_LOCALLY" }, "api", {
        patch: { nextCheckAt: null, prepayLockUntil: null },
        detail: { reason: "cancelled by the user" },
      });
      order = r.order; // CLOSED if applied; otherwise the re-read status (e.g. PAYING) decides again
      continue;
    }
    return closeAtWechat(ctx, order);
  }
  throw new Error(`order ${orderId}: cancel did not settle`);
}

async function closeAtWechat(ctx: OrdersContext, order: OrderRow): Promise<OrderView> {
  try {
    await ctx.pay().port.closeOrder(order.outTradeNo);
  } catch (err) {
    if (err instanceof ApiError && err.code === "ORDER_CLOSED") {
      // Already closed at WeChat: fall through and close locally.
    } else if (err instanceof ApiError) {
      // Most likely paid meanwhile (ORDER_PAID / TRADE_ERROR …): ask WeChat what is true.
      ctx.log.info("close refused; querying", { orderId: order.id, code: err.code });
      const synced = await syncWithWechat(ctx, order).catch((e: unknown) => {
        if (e instanceof WechatPayError) return null;
        throw e;
      });
      if (synced && isPaid(synced.order.status)) throw notPayable(synced.order, "the user has already paid it; ask for a refund instead");
      if (synced?.order.status === "CLOSED") return viewOf(ctx, synced.order);
      throw new AppError("payment_provider_error", `WeChat Pay refused to close the order: ${err.code} (${err.wechatMessage}); it stays ${order.status}`, { cause: err });
    } else if (err instanceof WechatPayError) {
      throw new AppError("payment_provider_error", `could not confirm the close with WeChat Pay (${err.code}); order ${order.id} stays ${order.status}: retry the cancel`, { cause: err });
    } else {
      throw err;
    }
  }
  const r = await applyEvent(applyCtx(ctx), order, { type: "CLOSED_AT_WECHAT" }, "api", {
    patch: { nextCheckAt: null, prepayLockUntil: null },
    detail: { reason: "cancelled by the user" },
  });
  if (isPaid(r.order.status)) throw notPayable(r.order, "the user has already paid it; ask for a refund instead");
  return viewOf(ctx, r.order);
}

/**
 * @module reconcile/orders — the order tasks of the cron job (SPEC §5). No state logic here:
 * every WeChat answer goes through `applyTransaction` / `applyEvent` (orders/apply.ts), the
 * same path as the notify route and order sync, with source `cron`.
 *
 * - PAYING orders whose `next_check_at` is due (60 s after prepay, then 2/5/15/30 min) and not
 *   yet expired: query → apply; still unpaid → back off.
 * - CREATED/PAYING orders past `expires_at`: query; paid → PAID; unpaid → close at WeChat →
 *   CLOSED (ORDER_CLOSED counts as closed); a close refused because the user paid meanwhile →
 *   query again → PAID (WECHATPAY.md J.2: the close/pay race). Unknown at WeChat → CLOSED.
 *
 * Oldest first, bounded per run and by the run's budget; a failing order is recorded, pushed back
 * two minutes, and does not stop the others.
 */
import { and, asc, eq, gt, inArray, isNull, lte, or } from "drizzle-orm";
import { orders } from "../db/schema";
import { applyEvent, applyTransaction } from "../orders/apply";
import { claimQuery, type OrderRow } from "../orders/repository";
import { SYNC_INTERVAL_MS } from "../orders/service";
import { ApiError } from "../wechat/pay/errors";
import type { ItemCost } from "./budget";
import { forEachDue, type JobContext } from "./context";
import type { TaskStats } from "./report";
import { RETRY_AFTER_FAILURE_MS, nextPayingCheck } from "./schedule";

const NOT_AT_WECHAT = new Set(["ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"]);

/**
 * Worst cases per order (test/cron/budget.test.ts measures them). Requests: each WeChat call, plus
 * one certificate download when an answer is signed by a serial we do not hold yet. Queries: the
 * claim, the transition batch (order, audit, outbox, flags), a re-read after a lost race, the
 * reschedule or push-back.
 */
export const PAYING_ORDER_COST: ItemCost = { requests: 2, queries: 12 };
/** Query, close, and the query after a refused close; each may bring a certificate download once. */
export const EXPIRED_ORDER_COST: ItemCost = { requests: 4, queries: 16 };

export async function checkPayingOrders(ctx: JobContext, now: number, stats: TaskStats): Promise<void> {
  const due = await ctx.db
    .select()
    .from(orders)
    .where(and(eq(orders.status, "PAYING"), lte(orders.nextCheckAt, now), gt(orders.expiresAt, now)))
    .orderBy(asc(orders.nextCheckAt), asc(orders.id))
    .limit(ctx.limits.payingOrders);
  await forEachDue(
    ctx,
    "payingOrders",
    due,
    stats,
    PAYING_ORDER_COST,
    async (order) => {
      const claimed = await claimQuery(ctx.db, order.id, ["PAYING"], ctx.deps.clock.now(), SYNC_INTERVAL_MS);
      if (!claimed) return false; // someone queried it a moment ago (sync) or it moved on
      const tx = await ctx.pay.port.queryByOutTradeNo(claimed.outTradeNo);
      const r = await applyTransaction(ctx.orders, claimed, tx, "cron", { detail: { task: "paying" } });
      if (r.outcome === "applied") return true;
      // Still unpaid (or flagged): ask again later, never after expiry (the expiry task takes over).
      await reschedule(ctx, claimed, nextPayingCheck(ctx.deps.clock.now(), claimed.queryCount, claimed.expiresAt));
      return false;
    },
    (order) => reschedule(ctx, order, Math.min(ctx.deps.clock.now() + RETRY_AFTER_FAILURE_MS, order.expiresAt)),
  );
}

export async function checkExpiredOrders(ctx: JobContext, now: number, stats: TaskStats): Promise<void> {
  const due = await ctx.db
    .select()
    .from(orders)
    .where(
      and(
        inArray(orders.status, ["CREATED", "PAYING"]),
        lte(orders.expiresAt, now),
        or(isNull(orders.nextCheckAt), lte(orders.nextCheckAt, now)),
      ),
    )
    .orderBy(asc(orders.expiresAt), asc(orders.id))
    .limit(ctx.limits.expiredOrders);
  await forEachDue(ctx, "expiredOrders", due, stats, EXPIRED_ORDER_COST, (order) => settleExpired(ctx, order), (order) =>
    reschedule(ctx, order, ctx.deps.clock.now() + RETRY_AFTER_FAILURE_MS),
  );
}

/** Query → paid: PAID; unpaid: close → CLOSED. True when the order changed. */
async function settleExpired(ctx: JobContext, order: OrderRow): Promise<boolean> {
  const claimed = await claimQuery(ctx.db, order.id, ["CREATED", "PAYING"], ctx.deps.clock.now(), SYNC_INTERVAL_MS);
  if (!claimed) return false;
  let tx;
  try {
    tx = await ctx.pay.port.queryByOutTradeNo(claimed.outTradeNo);
  } catch (err) {
    if (err instanceof ApiError && NOT_AT_WECHAT.has(err.code)) {
      // WeChat never had it (the prepay never got through): nothing to close there.
      return expire(ctx, claimed, { reason: "expired; unknown at WeChat", wechatCode: err.code });
    }
    throw err;
  }
  const seen = await applyTransaction(ctx.orders, claimed, tx, "cron", { detail: { task: "expired" } });
  if (seen.outcome === "applied") return true;
  if (seen.outcome === "flagged") {
    // The answer does not match the order: a human looks; we do not close over it.
    await reschedule(ctx, claimed, ctx.deps.clock.now() + 60 * 60_000);
    return false;
  }

  try {
    await ctx.pay.port.closeOrder(claimed.outTradeNo);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.code !== "ORDER_CLOSED") {
      // Most likely the user paid between our query and the close (ORDER_PAID): ask again.
      const again = await ctx.pay.port.queryByOutTradeNo(claimed.outTradeNo);
      const r = await applyTransaction(ctx.orders, seen.order, again, "cron", { detail: { task: "expired", closeRefused: err.code } });
      if (r.outcome === "applied") return true;
      throw err;
    }
  }
  return expire(ctx, seen.order, { reason: "expired; closed at WeChat" });
}

async function expire(ctx: JobContext, order: OrderRow, detail: Record<string, unknown>): Promise<boolean> {
  const r = await applyEvent(ctx.orders, order, { type: "EXPIRED" }, "cron", {
    patch: { nextCheckAt: null, prepayLockUntil: null },
    detail,
  });
  return r.outcome === "applied";
}

/** Data only (not a status change): when to look at this order again. */
async function reschedule(ctx: JobContext, order: OrderRow, at: number): Promise<void> {
  await ctx.db
    .update(orders)
    .set({ nextCheckAt: at })
    .where(and(eq(orders.id, order.id), eq(orders.status, order.status)));
}

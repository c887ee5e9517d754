/**
 * @module shipping/cron — the shipping tasks of the cron job (SPEC §9), each bounded: uploads
 * that are due, get_order refreshes of SHIPPED/RECEIVED records, `shipping_overdue` flags for
 * paid orders still unshipped 36 h after payment (WeChat reminds at 48 h), the jump path when
 * WX_ORDER_JUMP_PATH changed, and is_trade_managed once a day when WX_TRADE_MANAGED=auto.
 * Every item starts only if its declared worst case fits the run's budget (reconcile/budget.ts).
 */
import type { ItemCost } from "../reconcile/budget";
import { forEachDue, type JobContext } from "../reconcile/context";
import type { TaskStats } from "../reconcile/report";
import { createServerApi, serverApiCost } from "../wechat/server/client";
import { dueShippings, findShipping, patchShipping } from "./repository";
import { refreshShippingFromWechat, runUpload, type ShippingContext } from "./service";
import { applyJumpPath, refreshTradeManaged, shippingRequired } from "./settings";

export const OVERDUE_AFTER_MS = 36 * 3600_000;
/** A failed get_order refresh is tried again after this long. */
export const REFRESH_RETRY_MS = 3600_000;
/** Orders paid longer ago than this are not flagged (WeChat's own reminders have long passed). */
export const OVERDUE_LOOKBACK_MS = 30 * 24 * 3600_000;

export interface ShippingLimits {
  uploads: number;
  refreshes: number;
  overdue: number;
}

export const DEFAULT_SHIPPING_LIMITS: ShippingLimits = { uploads: 50, refreshes: 20, overdue: 50 };

/** Own statements plus `calls` server-API calls (each with its token worst case, wechat/server/client.ts). */
const withCalls = (queries: number, calls: number): ItemCost => {
  const api = serverApiCost(calls);
  return { requests: api.requests, queries: queries + api.queries };
};

/**
 * Worst cases per item (test/cron/shipping.costs.test.ts measures them). An upload: the claim
 * batch (3), whether shipping is required (1), the outcome with its flag (2); the upload, and
 * get_order after an "already shipped" answer — and get_order first when the last outcome is
 * unknown. A refresh: the record, the transaction id, the order, the record again, a record
 * started for a console shipment and its re-read, the write, a re-read after a lost race, the
 * push-back; one get_order. An overdue flag: its batch of 2. A setting: read, one call, store.
 */
export const SHIPPING_COSTS = {
  upload: withCalls(6, 2),
  uploadAfterUnknown: withCalls(6, 3),
  refresh: withCalls(9, 1),
  overdue: { requests: 0, queries: 2 } satisfies ItemCost,
  setting: withCalls(2, 1),
} as const;

const OVERDUE_SQL =
  "SELECT o.id FROM orders o LEFT JOIN shippings s ON s.order_id = o.id " +
  "WHERE o.status IN ('PAID', 'PARTIALLY_REFUNDED') AND o.created_at <= ?1 AND o.paid_at <= ?1 AND o.paid_at >= ?2 " +
  "AND (s.order_id IS NULL OR (s.status = 'NOT_SHIPPED' AND s.overdue_flagged_at IS NULL)) " +
  "ORDER BY o.paid_at LIMIT ?3";

const MARK_OVERDUE =
  "INSERT INTO shippings (order_id, status, overdue_flagged_at, created_at, updated_at) VALUES (?1, 'NOT_SHIPPED', ?2, ?2, ?2) " +
  "ON CONFLICT (order_id) DO UPDATE SET overdue_flagged_at = ?2, updated_at = ?2 WHERE shippings.status = 'NOT_SHIPPED' AND shippings.overdue_flagged_at IS NULL";
const FLAG = "INSERT INTO flags (order_id, kind, detail, at) SELECT ?, 'shipping_overdue', ?, ? WHERE changes() > 0";

/**
 * One failure per item is recorded (`ctx.fail`) and the loop goes on. The budget stops it between
 * items, never inside one: what it had selected is reported in `left.shipping` (0 when it
 * stopped before its next select) and stays due for the next run.
 */
export async function runShippingTasks(job: JobContext, now: number, stats: TaskStats, limits: ShippingLimits = DEFAULT_SHIPPING_LIMITS): Promise<void> {
  const ctx: ShippingContext = {
    db: job.db,
    d1: job.env.DB,
    deps: job.deps,
    config: job.config,
    log: job.log.with({ task: "shipping" }),
    // The run's timeout, as for its WeChat Pay calls: its budget stops taking items on that figure.
    api: createServerApi({ config: job.config, deps: job.deps, d1: job.env.DB, timeoutMs: job.budget.opts.requestTimeoutMs }),
  };
  const each = <T extends { id: string }>(items: readonly T[], cost: ItemCost | ((item: T) => ItemCost), work: (item: T) => Promise<boolean>) =>
    // Pushed back inside `work` where that matters; a failed upload's lease expires, a flag stays due.
    forEachDue(job, "shipping", items, stats, cost, work, async () => {});
  // Room for the next phase's selects? Without it the phases after wait for the next run.
  const room = (queries: number): boolean => {
    if (job.budget.canSpend(0, queries)) return true;
    job.budget.leave("shipping", 0);
    return false;
  };

  const settings = [
    { id: "is_trade_managed", run: () => refreshTradeManaged(ctx) },
    { id: "set_msg_jump_path", run: () => applyJumpPath(ctx) },
  ];
  if (!(await each(settings, SHIPPING_COSTS.setting, (s) => s.run()))) return;

  if (!room(1)) return;
  const uploads = await dueShippings(ctx.d1, "UPLOADING", now, limits.uploads);
  const uploadCost = (u: { outcomeUnknown: boolean }) => (u.outcomeUnknown ? SHIPPING_COSTS.uploadAfterUnknown : SHIPPING_COSTS.upload);
  if (!(await each(uploads, uploadCost, async ({ id }) => (await runUpload(ctx, id)) !== "UPLOADING"))) return;

  if (!room(2)) return;
  const refresh = [...(await dueShippings(ctx.d1, "SHIPPED", now, limits.refreshes)), ...(await dueShippings(ctx.d1, "RECEIVED", now, limits.refreshes))];
  const refreshed = await each(refresh, SHIPPING_COSTS.refresh, async ({ id }) => {
    const before = await findShipping(ctx.d1, id);
    const tx = await ctx.d1.prepare("SELECT transaction_id AS t FROM orders WHERE id = ?").bind(id).first<{ t: string | null }>();
    if (!before || !tx?.t) {
      // Nothing to ask about: stop refreshing this record.
      if (before) await patchShipping(ctx.d1, id, { status: before.status }, { nextAttemptAt: null }, now);
      return false;
    }
    try {
      return (await refreshShippingFromWechat(ctx, { transactionId: tx.t })) !== before.status;
    } catch (err) {
      // Pushed back, so a record WeChat cannot answer for never starves the others.
      await patchShipping(ctx.d1, id, { status: before.status }, { nextAttemptAt: now + REFRESH_RETRY_MS }, now).catch(() => {});
      throw err;
    }
  });
  if (!refreshed || !room(2)) return;

  if (!(await shippingRequired(ctx))) return;
  const { results } = await ctx.d1.prepare(OVERDUE_SQL).bind(now - OVERDUE_AFTER_MS, now - OVERDUE_LOOKBACK_MS, limits.overdue).all<{ id: string }>();
  await each(results, SHIPPING_COSTS.overdue, async ({ id }) => {
    const [res] = await ctx.d1.batch([
      ctx.d1.prepare(MARK_OVERDUE).bind(id, now),
      ctx.d1.prepare(FLAG).bind(id, JSON.stringify({ unshippedForHours: 36, hint: "upload shipping (POST /admin/orders/:id/shipping) before WeChat's 48-hour reminder" }), now),
    ]);
    return (res?.meta.changes ?? 0) > 0;
  });
}

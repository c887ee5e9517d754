/**
 * @module shipping/cron — the shipping tasks of the cron job (SPEC §9), each bounded: uploads
 * that are due, get_order refreshes of SHIPPED/RECEIVED records, `shipping_overdue` flags for
 * paid orders still unshipped 36 h after payment (WeChat reminds at 48 h), the jump path when
 * WX_ORDER_JUMP_PATH changed, and is_trade_managed once a day when WX_TRADE_MANAGED=auto.
 */
import type { TaskStats } from "../reconcile/report";
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

const OVERDUE_SQL =
  "SELECT o.id FROM orders o LEFT JOIN shippings s ON s.order_id = o.id " +
  "WHERE o.status IN ('PAID', 'PARTIALLY_REFUNDED') AND o.created_at <= ?1 AND o.paid_at <= ?1 AND o.paid_at >= ?2 " +
  "AND (s.order_id IS NULL OR (s.status = 'NOT_SHIPPED' AND s.overdue_flagged_at IS NULL)) " +
  "ORDER BY o.paid_at LIMIT ?3";

const MARK_OVERDUE =
  "INSERT INTO shippings (order_id, status, overdue_flagged_at, created_at, updated_at) VALUES (?1, 'NOT_SHIPPED', ?2, ?2, ?2) " +
  "ON CONFLICT (order_id) DO UPDATE SET overdue_flagged_at = ?2, updated_at = ?2 WHERE shippings.status = 'NOT_SHIPPED' AND shippings.overdue_flagged_at IS NULL";
const FLAG = "INSERT INTO flags (order_id, kind, detail, at) SELECT ?, 'shipping_overdue', ?, ? WHERE changes() > 0";

/** One failure per item is recorded by `fail` and the loop goes on. */
export async function runShippingTasks(
  ctx: ShippingContext,
  now: number,
  stats: TaskStats,
  fail: (id: string | null, err: unknown) => void,
  limits: ShippingLimits = DEFAULT_SHIPPING_LIMITS,
): Promise<void> {
  const each = async (ids: string[], work: (id: string) => Promise<boolean>) => {
    for (const id of ids) {
      stats.scanned++;
      try {
        if (await work(id)) stats.changed++;
      } catch (err) {
        stats.failed++;
        fail(id, err);
      }
    }
  };
  const settings = async (name: string, work: () => Promise<boolean>) => {
    try {
      if (await work()) stats.changed++;
    } catch (err) {
      stats.failed++;
      fail(name, err);
    }
  };
  await settings("is_trade_managed", () => refreshTradeManaged(ctx));
  await settings("set_msg_jump_path", () => applyJumpPath(ctx));

  await each(await dueShippings(ctx.d1, "UPLOADING", now, limits.uploads), async (id) => (await runUpload(ctx, id)) !== "UPLOADING");

  const refresh = [
    ...(await dueShippings(ctx.d1, "SHIPPED", now, limits.refreshes)),
    ...(await dueShippings(ctx.d1, "RECEIVED", now, limits.refreshes)),
  ];
  await each(refresh, async (id) => {
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

  if (!(await shippingRequired(ctx))) return;
  const { results } = await ctx.d1.prepare(OVERDUE_SQL).bind(now - OVERDUE_AFTER_MS, now - OVERDUE_LOOKBACK_MS, limits.overdue).all<{ id: string }>();
  await each(
    results.map((r) => r.id),
    async (id) => {
      const [res] = await ctx.d1.batch([
        ctx.d1.prepare(MARK_OVERDUE).bind(id, now),
        ctx.d1.prepare(FLAG).bind(id, JSON.stringify({ unshippedForHours: 36, hint: "upload shipping (POST /admin/orders/:id/shipping) before WeChat's 48-hour reminder" }), now),
      ]);
      return (res?.meta.changes ?? 0) > 0;
    },
  );
}

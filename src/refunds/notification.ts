/**
 * @module refunds/notification — applying a verified, decrypted REFUND.* notification
 * (WECHATPAY.md H.4). Called by the notify route after signature verification and decryption.
 *
 * The resource is cross-checked against what we stored (out_refund_no known, same order,
 * same refund amount and order total, our mchid); anything that does not fit is flagged and
 * answered as handled (retrying would not change it). A matching one goes through the one
 * refund transition writer with source `notify`.
 */
import type { Config } from "../config";
import type { WonCondition } from "../orders/repository";
import { getOrderByOutTradeNo, getOrderRow, getRefundByOutRefundNo } from "./repository";
import { decideRefund, normaliseRefundStatus } from "./state";
import { d1Of, flagRow, runBatch, type BatchStatement } from "./statements";
import { parseTime } from "./submit";
import { transitionRefund, type RefundCtx } from "./transition";

export type RefundNotificationOutcome = "applied" | "duplicate" | "flagged";

/** The decrypted refund notification resource (H.4); only these fields are read. */
export interface RefundNotificationResource {
  mchid?: string;
  out_trade_no?: string;
  transaction_id?: string;
  out_refund_no?: string;
  refund_id?: string;
  refund_status?: string;
  success_time?: string;
  amount?: { total?: number; refund?: number; payer_total?: number; payer_refund?: number };
}

/** What the notification turned out to be about (null where unknown). */
export interface RefundNotificationSubject {
  orderId: string | null;
  refundId: string | null;
}

export interface ApplyRefundNotificationOptions {
  /** WeChat's notification id (EV-…), recorded on flags. */
  notificationId?: string | null;
  /**
   * Statements stored atomically with the write that records the outcome (e.g. the caller's
   * notification row), exactly once, and only with it: given a `WonCondition` they ride in a
   * transition batch and must be conditional on it (see `RefundExtra`).
   */
  extra?: (outcome: RefundNotificationOutcome, about: RefundNotificationSubject, won: WonCondition | null) => BatchStatement[];
}

export async function applyRefundNotification(
  ctx: RefundCtx & { config?: Pick<Config, "mchid"> },
  resource: RefundNotificationResource | Record<string, unknown>,
  opts: ApplyRefundNotificationOptions = {},
): Promise<RefundNotificationOutcome> {
  const r = resource as RefundNotificationResource;
  const subject: RefundNotificationSubject = { orderId: null, refundId: null };
  const extraFor =
    (o: RefundNotificationOutcome) =>
    (won: WonCondition | null): BatchStatement[] =>
      opts.extra?.(o, { ...subject }, won) ?? [];
  const now = ctx.deps.clock.now();
  const notificationId = opts.notificationId ?? null;

  const flag = async (orderId: string | null, problem: string, detail: Record<string, unknown> = {}) => {
    subject.orderId = orderId;
    await runBatch(ctx.db, [
      flagRow(d1Of(ctx.db), {
        orderId,
        notificationId,
        kind: "refund_notification_rejected",
        detail: { problem, outRefundNo: r.out_refund_no ?? null, outTradeNo: r.out_trade_no ?? null, refundStatus: r.refund_status ?? null, ...detail },
        at: now,
      }),
      ...extraFor("flagged")(null),
    ]);
    ctx.deps.logger.warn("refund notification flagged", { problem, notificationId, outRefundNo: r.out_refund_no });
    return "flagged" as const;
  };

  if (typeof r.out_refund_no !== "string" || r.out_refund_no === "") return flag(null, "out_refund_no missing");
  const refund = await getRefundByOutRefundNo(ctx.db, r.out_refund_no);
  if (!refund) {
    // e.g. a refund made in the merchant platform's web UI: money moved without us.
    const order = typeof r.out_trade_no === "string" ? await getOrderByOutTradeNo(ctx.db, r.out_trade_no) : null;
    return flag(order?.id ?? null, "unknown out_refund_no", { amount: r.amount?.refund ?? null });
  }
  subject.refundId = refund.id;
  const order = await getOrderRow(ctx.db, refund.orderId);
  if (!order) return flag(refund.orderId, "order of the refund not found");
  if (ctx.config && r.mchid !== undefined && r.mchid !== ctx.config.mchid) return flag(order.id, "mchid mismatch");
  if (r.out_trade_no !== undefined && r.out_trade_no !== order.outTradeNo) return flag(order.id, "out_trade_no mismatch");
  if (r.amount?.refund !== refund.amount) return flag(order.id, "refund amount mismatch", { expected: refund.amount, got: r.amount?.refund ?? null });
  if (r.amount?.total !== undefined && r.amount.total !== order.amount) return flag(order.id, "order total mismatch", { expected: order.amount, got: r.amount.total });
  subject.orderId = order.id;
  const status = normaliseRefundStatus(r.refund_status);
  if (!status) return flag(order.id, "unknown refund_status");

  // The outcome is known before the write (a lost race re-decides inside, extra already spent).
  const predicted = decideRefund(refund.status, status).kind;
  const outcome: RefundNotificationOutcome = predicted === "transition" ? "applied" : predicted === "noop" ? "duplicate" : "flagged";
  const result = await transitionRefund(
    ctx,
    refund.id,
    status,
    "notify",
    { refundId: r.refund_id ?? null, successTime: parseTime(r.success_time), notificationId },
    extraFor(outcome),
  );
  if (result.kind === "applied") return "applied";
  if (result.kind === "noop") return "duplicate";
  return "flagged";
}

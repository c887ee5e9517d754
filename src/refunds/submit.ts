/**
 * @module refunds/submit — calling WeChat for a stored refund, and applying what it answers.
 *
 * The refund row (and its `out_refund_no`) exists before the call, so every retry — the admin
 * repeating the request, or the cron job after an unknown outcome — sends the same
 * `out_refund_no` and WeChat refunds at most once (WECHATPAY.md H.1, H.3). Outcomes:
 * an answer → its status goes through the transition writer; anything without a known outcome
 * (timeout, 5xx, 429, unverifiable answer) → stays PROCESSING, `outcome_unknown_at` recorded, the
 * cron job queries it. A definite refusal (a 4xx) closes the refund (and frees its amount) only
 * on the first attempt and only while no attempt's outcome is unknown: after one, the refusal
 * proves nothing (the lost attempt may have been applied, and WeChat may reject the repeat), so
 * WeChat is asked (H.2) and its answer decides (SPEC §8). Every attempt but the first records
 * `outcome_unknown_at` before it is sent: it exists only because an earlier one's outcome is
 * not known (a timeout, or a Worker that died mid-call).
 */
import type { Config } from "../config";
import { ApiError, WechatPayError } from "../wechat/pay/errors";
import type { RefundResource, WechatPayPort } from "../wechat/pay/port";
import { refunds, type ChangeSource } from "../db/schema";
import { and, eq, isNull } from "drizzle-orm";
import type { OrderRow, RefundRow } from "./repository";
import { normaliseRefundStatus } from "./state";
import { d1Of, flagRow, runBatch } from "./statements";
import { ABNORMAL_RECHECK_MS, PROCESSING_RECHECK_MS, transitionRefund, type RefundCtx, type RefundTransitionResult } from "./transition";

export interface RefundServiceCtx extends RefundCtx {
  config: Pick<Config, "notifyUrl">;
  port: WechatPayPort;
}

export type SubmitOutcome =
  | { kind: "answered"; result: RefundTransitionResult | null }
  /** First attempt, refused by WeChat (4xx) with no attempt's outcome unknown: now CLOSED. */
  | { kind: "refused"; error: ApiError }
  | { kind: "unknown"; error: unknown }
  /**
   * Refused after an attempt's outcome was unknown, and WeChat does not know the refund: kept
   * PROCESSING (its amount reserved), flagged `refund_unresolved`, sent again hourly.
   */
  | { kind: "unresolved"; error: ApiError };

export interface SubmitOptions {
  /** The first attempt, by the request that reserved the refund. Any other is a retry. */
  first?: boolean;
}

/** WeChat does not know this out_refund_no (H.2 query answer). */
export const unknownToWechat = (err: unknown): err is ApiError =>
  err instanceof ApiError && (err.code === "RESOURCE_NOT_EXISTS" || err.status === 404);

/** POST /v3/refund/domestic/refunds for a stored refund (first attempt or a retry). */
export async function submitRefund(
  ctx: RefundServiceCtx,
  refund: RefundRow,
  order: Pick<OrderRow, "outTradeNo" | "amount">,
  source: ChangeSource,
  opts: SubmitOptions = {},
): Promise<SubmitOutcome> {
  if (!opts.first) await markOutcomeUnknown(ctx, refund);
  let answer: RefundResource;
  try {
    answer = await ctx.port.createRefund({
      out_trade_no: order.outTradeNo,
      out_refund_no: refund.outRefundNo,
      ...(refund.reason ? { reason: refund.reason } : {}),
      notify_url: ctx.config.notifyUrl,
      amount: { refund: refund.amount, total: order.amount, currency: "CNY" },
    });
  } catch (error) {
    const now = ctx.deps.clock.now();
    if (error instanceof ApiError && !error.retryable) {
      if (opts.first && !error.afterUnknownAttempt) {
        const closed = await transitionRefund(ctx, refund.id, "CLOSED", source, {
          submittedAt: now,
          detail: { code: error.code, message: error.wechatMessage, status: error.status },
          onlyIfOutcomeKnown: true,
        });
        if (closed.kind !== "outcome_unknown") return { kind: "refused", error };
      }
      return askWechat(ctx, refund, source, error);
    }
    await markOutcomeUnknown(ctx, refund);
    ctx.deps.logger.warn("refund outcome unknown; the cron job will query it", {
      refundId: refund.id,
      outRefundNo: refund.outRefundNo,
      error: error instanceof WechatPayError ? error.code : error instanceof Error ? error.name : "unknown",
    });
    return { kind: "unknown", error };
  }
  return { kind: "answered", result: await applyRefundAnswer(ctx, refund, answer, source, { submitted: true }) };
}

/**
 * A refusal after an attempt with an unknown outcome: WeChat's query decides (H.2). Known to
 * WeChat → its status is applied. Unknown to WeChat → nothing was refunded and this attempt was
 * refused: the refund stays PROCESSING with its amount reserved (it is never closed on our
 * word), a human is asked to look, and the cron job sends it again, hourly.
 */
async function askWechat(ctx: RefundServiceCtx, refund: RefundRow, source: ChangeSource, refusal: ApiError): Promise<SubmitOutcome> {
  await markOutcomeUnknown(ctx, refund);
  ctx.deps.logger.warn("refund refused after an attempt with an unknown outcome; asking WeChat", {
    refundId: refund.id,
    outRefundNo: refund.outRefundNo,
    code: refusal.code,
  });
  let answer: RefundResource;
  try {
    answer = await ctx.port.queryRefund(refund.outRefundNo);
  } catch (err) {
    if (!unknownToWechat(err)) return { kind: "unknown", error: err };
    await holdUnresolved(ctx, refund, refusal);
    return { kind: "unresolved", error: refusal };
  }
  return { kind: "answered", result: await applyRefundAnswer(ctx, refund, answer, source, { submitted: true, queried: true }) };
}

/** Durably: an attempt of this refund had (or may have had) an unknown outcome. First time only. */
async function markOutcomeUnknown(ctx: RefundCtx, refund: RefundRow): Promise<void> {
  const now = ctx.deps.clock.now();
  await ctx.db
    .update(refunds)
    .set({ outcomeUnknownAt: now, updatedAt: now })
    .where(and(eq(refunds.id, refund.id), isNull(refunds.outcomeUnknownAt)));
}

/** Kept PROCESSING, next try in an hour; the refusal and one flag recorded the first time. */
async function holdUnresolved(ctx: RefundCtx, refund: RefundRow, refusal: ApiError): Promise<void> {
  const d1 = d1Of(ctx.db);
  const now = ctx.deps.clock.now();
  const detail = { code: refusal.code, message: refusal.wechatMessage, status: refusal.status, afterUnknownOutcome: true };
  await d1.batch([
    d1
      .prepare("UPDATE refunds SET next_check_at = ?, updated_at = ? WHERE id = ? AND status = 'PROCESSING'")
      .bind(now + ABNORMAL_RECHECK_MS, now, refund.id),
    d1.prepare("UPDATE refunds SET detail = ? WHERE id = ? AND status = 'PROCESSING' AND detail IS NULL").bind(JSON.stringify(detail), refund.id),
    // Right after the UPDATE above: only the first time.
    d1
      .prepare("INSERT INTO flags (order_id, kind, detail, at) SELECT ?, 'refund_unresolved', ?, ? WHERE changes() > 0")
      .bind(refund.orderId, JSON.stringify({ refundId: refund.id, outRefundNo: refund.outRefundNo, amount: refund.amount, ...detail }), now),
  ]);
  ctx.deps.logger.warn("refund unresolved: WeChat refused it and does not know it; amount kept reserved, flagged", {
    refundId: refund.id,
    outRefundNo: refund.outRefundNo,
    code: refusal.code,
  });
}

/**
 * A refund object from WeChat (create or query answer) → the transition writer. An answer that
 * does not match the stored refund (other number, other amount, unknown status) is flagged and
 * changes nothing. Returns null in that case.
 */
export async function applyRefundAnswer(
  ctx: RefundCtx,
  refund: RefundRow,
  answer: RefundResource,
  source: ChangeSource,
  opts: { submitted?: boolean; queried?: boolean; nextCheckAt?: number } = {},
): Promise<RefundTransitionResult | null> {
  const now = ctx.deps.clock.now();
  const status = normaliseRefundStatus(answer.status);
  const mismatch =
    answer.out_refund_no !== refund.outRefundNo
      ? "out_refund_no"
      : answer.amount?.refund !== undefined && answer.amount.refund !== refund.amount
        ? "amount"
        : status === null
          ? "status"
          : null;
  if (mismatch || status === null) {
    await runBatch(ctx.db, [
      flagRow(d1Of(ctx.db), {
        orderId: refund.orderId,
        kind: "refund_answer_mismatch",
        detail: { refundId: refund.id, field: mismatch, status: answer.status, outRefundNo: answer.out_refund_no, amount: answer.amount?.refund, source },
        at: now,
      }),
    ]);
    return null;
  }
  return transitionRefund(ctx, refund.id, status, source, {
    refundId: answer.refund_id ?? null,
    successTime: parseTime(answer.success_time),
    ...(opts.submitted ? { submittedAt: now } : {}),
    ...(opts.queried ? { lastQueryAt: now } : {}),
    ...(status === "PROCESSING" ? { nextCheckAt: opts.nextCheckAt ?? now + PROCESSING_RECHECK_MS } : {}),
    ...(status === "ABNORMAL" && refund.status === "ABNORMAL" ? { nextCheckAt: now + ABNORMAL_RECHECK_MS } : {}),
  });
}

export function parseTime(s: unknown): number | null {
  if (typeof s !== "string") return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}

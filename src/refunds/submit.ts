/**
 * @module refunds/submit — calling WeChat for a stored refund, and applying what it answers.
 *
 * The refund row (and its `out_refund_no`) exists before the call, so every retry — the admin
 * repeating the request, or the cron job after an unknown outcome — sends the same
 * `out_refund_no` and WeChat refunds at most once (WECHATPAY.md H.1, H.3). Outcomes:
 * an answer → its status goes through the transition writer; a definite refusal (`ApiError`,
 * not retryable) → CLOSED with WeChat's code in `detail`; anything else (timeout, 5xx, 429,
 * unverifiable answer) is unknown → stays PROCESSING and the cron job queries it.
 */
import type { Config } from "../config";
import { ApiError, WechatPayError } from "../wechat/pay/errors";
import type { RefundResource, WechatPayPort } from "../wechat/pay/port";
import type { ChangeSource } from "../db/schema";
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
  | { kind: "refused"; error: ApiError }
  | { kind: "unknown"; error: unknown };

/** POST /v3/refund/domestic/refunds for a stored refund (first attempt or a retry). */
export async function submitRefund(
  ctx: RefundServiceCtx,
  refund: RefundRow,
  order: Pick<OrderRow, "outTradeNo" | "amount">,
  source: ChangeSource,
): Promise<SubmitOutcome> {
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
      await transitionRefund(ctx, refund.id, "CLOSED", source, {
        submittedAt: now,
        detail: { code: error.code, message: error.wechatMessage, status: error.status },
      });
      return { kind: "refused", error };
    }
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

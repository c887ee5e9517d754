/**
 * @module refunds/service — the admin refund use case (`POST /admin/orders/:id/refunds`).
 *
 * validate → idempotency (the key is required, SPEC §8: without it a retried request would get
 * a fresh `out_refund_no` and WeChat would refund twice; same key + same body → the same refund;
 * other body → 409) → reserve the refund atomically (PROCESSING, `out_refund_no` stored) → call
 * WeChat → apply. A definite refusal of that first attempt answers 502 `payment_provider_error`
 * (the refund is CLOSED and frees its amount); an unknown outcome answers 201 with the refund
 * still PROCESSING. A repeat of a refund WeChat never acknowledged asks WeChat first (H.2) and
 * sends it again, same `out_refund_no`, only if WeChat does not know it.
 */
import { AppError } from "../errors";
import type { RefundResource } from "../wechat/pay/port";
import { utf8, sha256Hex } from "../lib/encoding";
import { newId, randomString } from "../lib/random";
import {
  getOrderRow,
  getRefund,
  getRefundByKey,
  refundHeadroom,
  reserveRefund,
  type OrderRow,
  type RefundRow,
} from "./repository";
import { MAX_REASON_BYTES, MAX_REFUNDS_PER_ORDER } from "./state";
import { applyRefundAnswer, submitRefund, unknownToWechat, type RefundServiceCtx } from "./submit";
import { PROCESSING_RECHECK_MS } from "./transition";

export interface RefundInput {
  amount: number;
  reason?: string | null | undefined;
}

export interface CreateRefundResult {
  refund: RefundRow;
  /** false: an earlier request with the same Idempotency-Key made it. */
  created: boolean;
}

/** `out_refund_no`: [0-9A-Za-z], 32 characters, unique (WECHATPAY.md H.1 allows 1–64). */
export const newOutRefundNo = (ctx: RefundServiceCtx): string => `RF${randomString(ctx.deps.random, 30)}`;

export function validateRefundInput(input: RefundInput): { amount: number; reason: string | null } {
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
    throw new AppError("invalid_request", "amount: must be a positive integer number of fen");
  }
  const reason = input.reason?.trim() || null;
  if (reason !== null && utf8(reason).length > MAX_REASON_BYTES) {
    throw new AppError("invalid_request", `reason: must be at most ${MAX_REASON_BYTES} bytes (UTF-8)`);
  }
  return { amount: input.amount, reason };
}

export async function createRefund(
  ctx: RefundServiceCtx,
  orderId: string,
  input: RefundInput,
  idempotencyKey: string,
): Promise<CreateRefundResult> {
  const { amount, reason } = validateRefundInput(input);
  if (!idempotencyKey) throw new AppError("invalid_request", "Idempotency-Key: required, so that a retried refund request cannot refund twice");
  const requestHash = await sha256Hex(JSON.stringify({ amount, reason }));

  const order = await getOrderRow(ctx.db, orderId);
  if (!order) throw new AppError("not_found", "order not found");

  const earlier = await getRefundByKey(ctx.db, orderId, idempotencyKey);
  if (earlier) return { refund: await repeat(ctx, earlier, order, requestHash), created: false };
  if (order.status !== "PAID" && order.status !== "PARTIALLY_REFUNDED") {
    throw new AppError("refund_not_allowed", `the order is ${order.status}: only PAID or PARTIALLY_REFUNDED orders can be refunded`);
  }

  const now = ctx.deps.clock.now();
  const id = newId(ctx.deps.random, "rfd");
  const reserved = await reserveRefund(ctx.db, {
    id,
    orderId,
    outRefundNo: newOutRefundNo(ctx),
    amount,
    reason,
    idempotencyKey,
    requestHash,
    nextCheckAt: now + PROCESSING_RECHECK_MS,
    now,
  });
  if (!reserved) {
    // A concurrent request with the same key won the insert?
    const concurrent = await getRefundByKey(ctx.db, orderId, idempotencyKey);
    if (concurrent) return { refund: await repeat(ctx, concurrent, order, requestHash), created: false };
    throw await refusal(ctx, orderId, amount);
  }
  const refund = await getRefund(ctx.db, id);
  if (!refund) throw new Error(`refund ${id} vanished after insert`);

  const outcome = await submitRefund(ctx, refund, order, "admin", { first: true });
  if (outcome.kind === "refused") {
    throw new AppError(
      "payment_provider_error",
      `WeChat Pay refused the refund (${outcome.error.code}: ${outcome.error.wechatMessage}); it is recorded as CLOSED`,
      { logFields: { refundId: id, wechatCode: outcome.error.code } },
    );
  }
  return { refund: (await getRefund(ctx.db, id)) ?? refund, created: true };
}

/**
 * Same key again: same body → the same refund. One WeChat never acknowledged is not simply sent
 * again: its earlier attempt may have been applied and the repeat refused, so WeChat is asked
 * first (H.2) and its answer applied; only one WeChat does not know is sent again, with the same
 * `out_refund_no`. A query that fails leaves it to the cron job.
 */
async function repeat(ctx: RefundServiceCtx, earlier: RefundRow, order: OrderRow, requestHash: string): Promise<RefundRow> {
  if (earlier.requestHash !== requestHash) {
    throw new AppError("idempotency_conflict", "this Idempotency-Key was used with a different body for this order");
  }
  if (earlier.status === "PROCESSING" && earlier.submittedAt === null) {
    let answer: RefundResource | null = null;
    try {
      answer = await ctx.port.queryRefund(earlier.outRefundNo);
    } catch (err) {
      if (unknownToWechat(err)) await submitRefund(ctx, earlier, order, "admin");
      else ctx.deps.logger.warn("refund repeat: WeChat could not be asked; the cron job will", { refundId: earlier.id });
    }
    if (answer) await applyRefundAnswer(ctx, earlier, answer, "admin", { submitted: true, queried: true });
  }
  return (await getRefund(ctx.db, earlier.id)) ?? earlier;
}

async function refusal(ctx: RefundServiceCtx, orderId: string, amount: number): Promise<AppError> {
  const order = await getOrderRow(ctx.db, orderId);
  if (!order || (order.status !== "PAID" && order.status !== "PARTIALLY_REFUNDED")) {
    return new AppError("refund_not_allowed", `the order is ${order?.status ?? "gone"}: only PAID or PARTIALLY_REFUNDED orders can be refunded`);
  }
  const { inFlightOrDone, count } = await refundHeadroom(ctx.db, orderId);
  if (count >= MAX_REFUNDS_PER_ORDER) {
    return new AppError("refund_not_allowed", `the order already has ${count} refunds (WeChat allows at most ${MAX_REFUNDS_PER_ORDER})`);
  }
  const left = Math.max(0, order.amount - inFlightOrDone);
  return new AppError(
    "refund_not_allowed",
    `amount ${amount} exceeds what is still refundable: ${left} of ${order.amount} fen (refunds succeeded or in progress: ${inFlightOrDone})`,
  );
}

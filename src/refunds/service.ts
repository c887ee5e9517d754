/**
 * @module refunds/service — the admin refund use case (`POST /admin/orders/:id/refunds`).
 *
 * validate → idempotency (same key + same body → the same refund; other body → 409) →
 * reserve the refund atomically (PROCESSING, `out_refund_no` stored) → call WeChat → apply.
 * A definite refusal answers 502 `payment_provider_error` (the refund is CLOSED and frees its
 * amount); an unknown outcome answers 201 with the refund still PROCESSING.
 */
import { AppError } from "../errors";
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
import { submitRefund, type RefundServiceCtx } from "./submit";
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
  idempotencyKey: string | null,
): Promise<CreateRefundResult> {
  const { amount, reason } = validateRefundInput(input);
  const requestHash = idempotencyKey ? await sha256Hex(JSON.stringify({ amount, reason })) : null;

  const order = await getOrderRow(ctx.db, orderId);
  if (!order) throw new AppError("not_found", "order not found");

  if (idempotencyKey) {
    const earlier = await getRefundByKey(ctx.db, orderId, idempotencyKey);
    if (earlier) return { refund: await repeat(ctx, earlier, order, requestHash), created: false };
  }
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
    if (idempotencyKey) {
      // A concurrent request with the same key won the insert.
      const earlier = await getRefundByKey(ctx.db, orderId, idempotencyKey);
      if (earlier) return { refund: await repeat(ctx, earlier, order, requestHash), created: false };
    }
    throw await refusal(ctx, orderId, amount);
  }
  const refund = await getRefund(ctx.db, id);
  if (!refund) throw new Error(`refund ${id} vanished after insert`);

  const outcome = await submitRefund(ctx, refund, order, "admin");
  if (outcome.kind === "refused") {
    throw new AppError(
      "payment_provider_error",
      `WeChat Pay refused the refund (${outcome.error.code}: ${outcome.error.wechatMessage}); it is recorded as CLOSED`,
      { logFields: { refundId: id, wechatCode: outcome.error.code } },
    );
  }
  return { refund: (await getRefund(ctx.db, id)) ?? refund, created: true };
}

/** Same key again: same body → the same refund (re-sent to WeChat if it never answered). */
async function repeat(ctx: RefundServiceCtx, earlier: RefundRow, order: OrderRow, requestHash: string | null): Promise<RefundRow> {
  if (earlier.requestHash !== requestHash) {
    throw new AppError("idempotency_conflict", "this Idempotency-Key was used with a different body for this order");
  }
  if (earlier.status === "PROCESSING" && earlier.submittedAt === null) {
    await submitRefund(ctx, earlier, order, "admin");
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

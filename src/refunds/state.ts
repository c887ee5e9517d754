/**
 * @module refunds/state — THE refund state machine: one pure, total table (SPEC §3, issue 6).
 *
 * A refund is stored PROCESSING before WeChat is called (its `out_refund_no` reserved), and
 * moves only by what WeChat says (create answer, query, REFUND.* notification), or to CLOSED
 * when WeChat definitely refused the create call. Every status × reported status has an
 * answer:
 *
 * - `transition`: write the new status (plus flags for a human);
 * - `noop`: already reflected (duplicate notification, a query that says the same);
 * - `conflict`: WeChat reports something our record cannot become (a SUCCESS refund reported
 *   CLOSED): nothing is written, a human is asked to look.
 *
 * WeChat's ABNORMAL (could not go back by the original route) is not final: after the merchant
 * uses the abnormal-refund API it becomes PROCESSING/SUCCESS again (WECHATPAY.md H.1). A refund
 * that we had CLOSED but WeChat reports SUCCESS is money that left: it is recorded (and
 * flagged), never ignored. Imports nothing.
 */

export const REFUND_STATES = ["PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL"] as const;
export type RefundState = (typeof REFUND_STATES)[number];

export type RefundFlag = "refund_abnormal" | "refund_success_after_close";

export type RefundDecision =
  | { kind: "transition"; to: RefundState; flags: RefundFlag[] }
  | { kind: "noop" }
  | { kind: "conflict"; reason: string };

const go = (to: RefundState, ...flags: RefundFlag[]): RefundDecision => ({ kind: "transition", to, flags });
const NOOP: RefundDecision = { kind: "noop" };
const conflict = (reason: string): RefundDecision => ({ kind: "conflict", reason });

/** our status → reported status → decision. */
export const REFUND_TRANSITIONS: Readonly<Record<RefundState, Readonly<Record<RefundState, RefundDecision>>>> = {
  PROCESSING: {
    PROCESSING: NOOP,
    SUCCESS: go("SUCCESS"),
    CLOSED: go("CLOSED"),
    ABNORMAL: go("ABNORMAL", "refund_abnormal"),
  },
  ABNORMAL: {
    // The merchant re-sent it through the abnormal-refund API: back in flight.
    PROCESSING: go("PROCESSING"),
    SUCCESS: go("SUCCESS"),
    CLOSED: go("CLOSED"),
    ABNORMAL: NOOP,
  },
  SUCCESS: {
    PROCESSING: conflict("the refund already succeeded; WeChat reports PROCESSING"),
    SUCCESS: NOOP,
    CLOSED: conflict("the refund already succeeded; WeChat reports CLOSED"),
    ABNORMAL: conflict("the refund already succeeded; WeChat reports ABNORMAL"),
  },
  CLOSED: {
    PROCESSING: conflict("the refund was closed; WeChat reports PROCESSING"),
    // Money left the merchant account after all: record it and ask a human to look.
    SUCCESS: go("SUCCESS", "refund_success_after_close"),
    CLOSED: NOOP,
    ABNORMAL: conflict("the refund was closed; WeChat reports ABNORMAL"),
  },
};

export function decideRefund(current: RefundState, reported: RefundState): RefundDecision {
  return REFUND_TRANSITIONS[current][reported];
}

/** WeChat's `status` (create/query) or `refund_status` (notification) → our union, or null. */
export function normaliseRefundStatus(value: unknown): RefundState | null {
  return typeof value === "string" && (REFUND_STATES as readonly string[]).includes(value) ? (value as RefundState) : null;
}

/** Statuses whose amount counts against what is still refundable (everything but CLOSED). */
export const COUNTS_AGAINST_ORDER: readonly RefundState[] = ["PROCESSING", "SUCCESS", "ABNORMAL"];

/** WeChat allows at most 50 refunds per order (WECHATPAY.md H.3). */
export const MAX_REFUNDS_PER_ORDER = 50;
/** `reason` is shown to the user; WeChat limits it to 80 bytes (H.1). */
export const MAX_REASON_BYTES = 80;

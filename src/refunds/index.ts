/** @module refunds — the refund use cases other modules call (notify route, admin, cron). */
export { createRefund, validateRefundInput, type RefundInput, type CreateRefundResult } from "./service";
export { applyRefundNotification, type RefundNotificationOutcome, type RefundNotificationResource, type ApplyRefundNotificationOptions, type RefundNotificationSubject } from "./notification";
export { transitionRefund, type RefundCtx, type RefundPatch, type RefundTransitionResult } from "./transition";
export { submitRefund, applyRefundAnswer, type RefundServiceCtx, type SubmitOutcome } from "./submit";
export { serializeRefund, RefundSchema, type RefundJson } from "./serialize";
export type { BatchStatement } from "./statements";

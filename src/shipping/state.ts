/**
 * @module shipping/state — the shipping record's state machine (SPEC §9), pure: what an upload
 * attempt's outcome and WeChat's `order_state` (get_order) mean for the record.
 *
 *   NOT_SHIPPED → UPLOADING → SHIPPED → RECEIVED → SETTLED, plus FAILED (flagged; a new shipment
 *   request takes it back to UPLOADING), and SHIPPED → UPLOADING for the one re-ship.
 *
 * Upload outcomes (WECHATPAY.md N.3): accepted → SHIPPED; 10060001 (payment not yet visible)
 * right after payment → retried with back-off for up to an hour, then FAILED; -1, 10060012,
 * 10060019, a rejected token → retried; timeouts, 5xx → retried, the next attempt asking
 * get_order first (the upload may have been applied and a payment has one re-ship only);
 * 10060002/10060023 → settled by get_order; anything else → FAILED.
 */
import type { ShippingStatus } from "../db/schema";
import type { WechatShippingState } from "../wechat/server/shipping";

export type UploadOutcome =
  | { kind: "uploaded" }
  | { kind: "not_visible" }
  | { kind: "retryable"; code: string }
  | { kind: "unknown"; code: string }
  | { kind: "terminal"; code: string };

export interface UploadDecision {
  status: ShippingStatus;
  /** Next attempt in this many ms (UPLOADING), or null. */
  retryInMs: number | null;
  /** The attempt may have been applied: ask get_order before the next upload. */
  outcomeUnknown: boolean;
  /** Raise this flag (needs a human). */
  flag: "shipping_failed" | null;
  lastError: string | null;
}

/** 10060001 is retried this long after payment (SPEC §9: up to an hour). */
export const NOT_VISIBLE_WINDOW_MS = 3600_000;
/** The first retry lands on the next cron run (every minute), then spreads out. */
export const NOT_VISIBLE_BACKOFF_MS = [30_000, 60_000, 2 * 60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000];
export const RETRY_BACKOFF_MS = [60_000, 2 * 60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000];
/** After this many attempts a retryable failure is FAILED and flagged. */
export const MAX_ATTEMPTS = 12;

const pick = (table: readonly number[], attempts: number) => table[Math.min(Math.max(attempts, 1) - 1, table.length - 1)]!;

const failed = (lastError: string): UploadDecision => ({ status: "FAILED", retryInMs: null, outcomeUnknown: false, flag: "shipping_failed", lastError });

export function decideUpload(outcome: UploadOutcome, at: { attempts: number; msSincePaid: number }): UploadDecision {
  switch (outcome.kind) {
    case "uploaded":
      return { status: "SHIPPED", retryInMs: null, outcomeUnknown: false, flag: null, lastError: null };
    case "not_visible":
      if (at.msSincePaid >= NOT_VISIBLE_WINDOW_MS) return failed("errcode_10060001: WeChat still does not know the payment an hour after it was paid");
      return { status: "UPLOADING", retryInMs: pick(NOT_VISIBLE_BACKOFF_MS, at.attempts), outcomeUnknown: false, flag: null, lastError: "errcode_10060001" };
    case "retryable":
    case "unknown":
      if (at.attempts >= MAX_ATTEMPTS) return failed(`${outcome.code}: gave up after ${at.attempts} attempts`);
      return { status: "UPLOADING", retryInMs: pick(RETRY_BACKOFF_MS, at.attempts), outcomeUnknown: outcome.kind === "unknown", flag: null, lastError: outcome.code };
    case "terminal":
      return failed(outcome.code);
  }
}

/** Order of progress: a refresh never moves a record backwards. */
export const RANK: Record<ShippingStatus, number> = { NOT_SHIPPED: 0, UPLOADING: 1, FAILED: 1, SHIPPED: 2, RECEIVED: 3, SETTLED: 4 };

/**
 * The status WeChat's `order_state` implies, or null when it implies no change: 1 (awaiting
 * shipment) says nothing we did not know; 5 (refunded) ends shipping — an upload still pending
 * is FAILED without a flag, a shipped record keeps its status.
 */
export function statusFromWechat(current: ShippingStatus, w: WechatShippingState, acceptedUploads: number): ShippingStatus | null {
  let target: ShippingStatus | null;
  switch (w.orderState) {
    case 2:
      // A re-ship in progress (UPLOADING after one accepted upload) is not done until WeChat counts it.
      target = w.finishShipping && !(current === "UPLOADING" && w.finishShippingCount <= acceptedUploads) ? "SHIPPED" : null;
      break;
    case 3:
    case 6:
      target = "RECEIVED";
      break;
    case 4:
      target = "SETTLED";
      break;
    case 5:
      return current === "UPLOADING" || current === "NOT_SHIPPED" ? "FAILED" : null;
    default:
      target = null;
  }
  if (target === null || target === current) return null;
  return RANK[target] > RANK[current] || current === "FAILED" ? target : null;
}

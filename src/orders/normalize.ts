/**
 * @module orders/normalize — a WeChat `Transaction` (from a query, or a decrypted
 * TRANSACTION.SUCCESS notification) → a small internal union, and the cross-check against the
 * stored order (WECHATPAY.md F.1, G.2 step 5; STYLE practice 8).
 *
 * Pure: no I/O, no clock. `interpretTransaction` is what the domain uses: a transaction that does
 * not match the order (appid, mchid, out_trade_no, amount.total, currency) is *never* turned into
 * a payment; the mismatches come back so the caller records and flags them.
 */
import type { Transaction } from "../wechat/pay/port";

/** What a transaction says about the order, in our words. */
export type NormalizedTransaction =
  /** trade_state SUCCESS, or REFUND (paid, then refunded: still paid). */
  | { kind: "paid"; tradeState: string; transactionId: string; paidAt: number; payerTotal: number | null }
  | { kind: "notpay" }
  | { kind: "closed" }
  /** Anything else (USERPAYING, PAYERROR, REVOKED, ACCEPT, unknown): no state change. */
  | { kind: "other"; tradeState: string };

export const MISMATCH_KINDS = [
  "appid_mismatch",
  "mchid_mismatch",
  "out_trade_no_mismatch",
  "amount_mismatch",
  "currency_mismatch",
  /** A "paid" transaction we cannot record (no transaction_id, unreadable success_time). */
  "malformed_transaction",
] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

export interface Mismatch {
  kind: MismatchKind;
  field: string;
  expected: string | number | null;
  actual: string | number | null;
}

/** The stored order, as far as the cross-check needs it. */
export interface OrderForCheck {
  outTradeNo: string;
  amount: number;
  currency: string;
}

/** Our merchant identity (config). */
export interface Merchant {
  appid: string;
  mchid: string;
}

export type Interpretation =
  | { ok: true; result: NormalizedTransaction }
  | { ok: false; mismatches: Mismatch[]; tradeState: string };

const PAID_STATES = new Set(["SUCCESS", "REFUND"]);

/** WeChat's RFC 3339 `success_time` (e.g. 2018-06-08T10:34:56+08:00) → epoch ms, or null. */
export function parseWechatTime(value: unknown): number | null {
  if (typeof value !== "string") return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** trade_state → internal union, without looking at the order. */
export function normalizeTransaction(tx: Transaction): NormalizedTransaction | { kind: "malformed"; reason: string } {
  const state = typeof tx.trade_state === "string" ? tx.trade_state : "";
  if (PAID_STATES.has(state)) {
    const transactionId = tx.transaction_id;
    if (typeof transactionId !== "string" || transactionId === "") {
      return { kind: "malformed", reason: `trade_state ${state} without transaction_id` };
    }
    const paidAt = parseWechatTime(tx.success_time);
    if (paidAt === null) return { kind: "malformed", reason: `trade_state ${state} without a readable success_time` };
    const pt = tx.amount?.payer_total;
    return {
      kind: "paid",
      tradeState: state,
      transactionId,
      paidAt,
      payerTotal: typeof pt === "number" && Number.isSafeInteger(pt) ? pt : null,
    };
  }
  if (state === "NOTPAY") return { kind: "notpay" };
  if (state === "CLOSED") return { kind: "closed" };
  return { kind: "other", tradeState: state || "(missing)" };
}

/**
 * Every way `tx` disagrees with the order and our merchant. amount.total is required when the
 * transaction claims payment (WeChat's "特别提醒": the amount check stops fake notifications);
 * for unpaid states it is checked when present. Currency defaults to CNY on both sides.
 */
export function crossCheck(order: OrderForCheck, tx: Transaction, merchant: Merchant): Mismatch[] {
  const out: Mismatch[] = [];
  const str = (v: unknown): string | null => (typeof v === "string" ? v : v === undefined || v === null ? null : String(v));
  if (tx.appid !== merchant.appid) out.push({ kind: "appid_mismatch", field: "appid", expected: merchant.appid, actual: str(tx.appid) });
  if (tx.mchid !== merchant.mchid) out.push({ kind: "mchid_mismatch", field: "mchid", expected: merchant.mchid, actual: str(tx.mchid) });
  if (tx.out_trade_no !== order.outTradeNo) {
    out.push({ kind: "out_trade_no_mismatch", field: "out_trade_no", expected: order.outTradeNo, actual: str(tx.out_trade_no) });
  }
  const claimsPaid = PAID_STATES.has(tx.trade_state);
  const total = tx.amount?.total;
  if (total !== undefined || claimsPaid) {
    if (total !== order.amount) {
      out.push({ kind: "amount_mismatch", field: "amount.total", expected: order.amount, actual: typeof total === "number" ? total : str(total) });
    }
  }
  const currency = tx.amount?.currency ?? "CNY";
  const expectedCurrency = order.currency || "CNY";
  if (currency !== expectedCurrency) {
    out.push({ kind: "currency_mismatch", field: "amount.currency", expected: expectedCurrency, actual: str(currency) });
  }
  return out;
}

/** Cross-check first, then normalise: a transaction that does not match never pays. */
export function interpretTransaction(order: OrderForCheck, tx: Transaction, merchant: Merchant): Interpretation {
  const tradeState = typeof tx.trade_state === "string" ? tx.trade_state : "(missing)";
  const mismatches = crossCheck(order, tx, merchant);
  const normalized = normalizeTransaction(tx);
  if (normalized.kind === "malformed") {
    mismatches.push({ kind: "malformed_transaction", field: "transaction", expected: null, actual: normalized.reason });
  }
  if (mismatches.length > 0 || normalized.kind === "malformed") return { ok: false, mismatches, tradeState };
  return { ok: true, result: normalized };
}

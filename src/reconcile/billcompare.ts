/**
 * @module reconcile/billcompare — a parsed trade bill against our records (WECHATPAY.md I.4).
 * Pure: the caller loads the orders and refunds; this decides what differs.
 *
 * - `missing_local`: WeChat has a payment (or a successful refund) we do not have as such —
 *   unknown out_trade_no/out_refund_no, or an order we do not hold as paid;
 * - `missing_remote`: we hold a payment (refund) as succeeded that day; the bill does not list it;
 * - `amount_mismatch`: same number, another amount;
 * - `status_mismatch`: the bill says a refund succeeded, we hold it as PROCESSING/CLOSED/ABNORMAL;
 * - `summary_mismatch`: the rows do not add up to the bill's own summary row.
 *
 * Only our rows are compared: `splitForeign` first sets aside the rows of another appid or mchid
 * (a merchant id shared with an app or an official account lists their payments too).
 */
import type { BillRow, ParsedBill } from "./bill";

export type BillDiffKind = "missing_local" | "missing_remote" | "amount_mismatch" | "status_mismatch" | "summary_mismatch";

export interface BillDiff {
  kind: BillDiffKind;
  orderId: string | null;
  outTradeNo: string | null;
  outRefundNo: string | null;
  detail: Record<string, unknown>;
}

export interface LocalOrder {
  id: string;
  outTradeNo: string;
  status: string;
  amount: number;
  paidAt: number | null;
}

export interface LocalRefund {
  id: string;
  orderId: string;
  outRefundNo: string;
  amount: number;
  status: string;
  settledAt: number | null;
}

const PAID = new Set(["PAID", "PARTIALLY_REFUNDED", "REFUNDED"]);

export const isRefundRow = (r: BillRow): boolean => r.tradeState === "REFUND" || r.outRefundNo !== null;

/** Our rows (appid and mchid both ours), and how many others the bill holds. */
export function splitForeign(rows: BillRow[], merchant: { appid: string; mchid: string }): { ours: BillRow[]; foreign: number } {
  const ours = rows.filter((r) => r.appid === merchant.appid && r.mchid === merchant.mchid);
  return { ours, foreign: rows.length - ours.length };
}

export function compareBill(
  bill: ParsedBill,
  local: {
    /** Every order the bill mentions, and every order we hold as paid in the day. */
    orders: LocalOrder[];
    /** Every refund the bill mentions, and every refund we hold as succeeded in the day. */
    refunds: LocalRefund[];
    day: { start: number; end: number };
  },
): BillDiff[] {
  const diffs: BillDiff[] = [];
  const orders = new Map(local.orders.map((o) => [o.outTradeNo, o]));
  const refunds = new Map(local.refunds.map((r) => [r.outRefundNo, r]));
  const billedPayments = new Set<string>();
  const billedRefunds = new Set<string>();

  for (const row of bill.rows) {
    if (isRefundRow(row)) {
      const no = row.outRefundNo ?? "";
      billedRefunds.add(no);
      const ours = refunds.get(no);
      const billAmount = row.requestedRefundAmount || row.refundAmount;
      const base = { outTradeNo: row.outTradeNo, outRefundNo: no || null };
      if (!ours) {
        diffs.push({ kind: "missing_local", orderId: orders.get(row.outTradeNo)?.id ?? null, ...base, detail: { what: "refund", reason: "unknown out_refund_no", billAmount, refundId: row.refundId, billStatus: row.refundStatus } });
        continue;
      }
      if (billAmount !== ours.amount) {
        diffs.push({ kind: "amount_mismatch", orderId: ours.orderId, ...base, detail: { what: "refund", billAmount, localAmount: ours.amount } });
      }
      if (row.refundStatus && row.refundStatus !== ours.status) {
        diffs.push({ kind: "status_mismatch", orderId: ours.orderId, ...base, detail: { what: "refund", billStatus: row.refundStatus, localStatus: ours.status } });
      }
      continue;
    }
    billedPayments.add(row.outTradeNo);
    const ours = orders.get(row.outTradeNo);
    const base = { outTradeNo: row.outTradeNo, outRefundNo: null };
    if (!ours || !PAID.has(ours.status)) {
      diffs.push({
        kind: "missing_local",
        orderId: ours?.id ?? null,
        ...base,
        detail: { what: "payment", reason: ours ? `held as ${ours.status}` : "unknown out_trade_no", billAmount: row.orderAmount, transactionId: row.transactionId, billStatus: row.tradeState },
      });
      if (!ours) continue;
    }
    if (row.orderAmount !== ours.amount) {
      diffs.push({ kind: "amount_mismatch", orderId: ours.id, ...base, detail: { what: "payment", billAmount: row.orderAmount, localAmount: ours.amount } });
    }
  }

  const inDay = (t: number | null) => t !== null && t >= local.day.start && t < local.day.end;
  for (const o of local.orders) {
    if (PAID.has(o.status) && inDay(o.paidAt) && !billedPayments.has(o.outTradeNo)) {
      diffs.push({ kind: "missing_remote", orderId: o.id, outTradeNo: o.outTradeNo, outRefundNo: null, detail: { what: "payment", localStatus: o.status, localAmount: o.amount, paidAt: new Date(o.paidAt!).toISOString() } });
    }
  }
  for (const r of local.refunds) {
    if (r.status === "SUCCESS" && inDay(r.settledAt) && !billedRefunds.has(r.outRefundNo)) {
      diffs.push({ kind: "missing_remote", orderId: r.orderId, outTradeNo: null, outRefundNo: r.outRefundNo, detail: { what: "refund", localAmount: r.amount, settledAt: new Date(r.settledAt!).toISOString() } });
    }
  }
  if (!bill.consistent) {
    diffs.push({ kind: "summary_mismatch", orderId: null, outTradeNo: null, outRefundNo: null, detail: { summary: bill.summary, computed: bill.computed } });
  }
  return diffs;
}

import { describe, expect, it } from "vitest";
import type { BillRow, ParsedBill } from "../../../src/reconcile/bill";
import { compareBill } from "../../../src/reconcile/billcompare";

const day = { start: 1_000_000, end: 1_000_000 + 86_400_000 };

function row(p: Partial<BillRow>): BillRow {
  return {
    tradeTime: "2026-11-29 20:00:00", appid: "wx", mchid: "1", transactionId: "42", outTradeNo: "T1", openid: "o", tradeType: "JSAPI",
    tradeState: "SUCCESS", currency: "CNY", settlementTotal: 100, couponAmount: 0, refundId: null, outRefundNo: null, refundAmount: 0,
    couponRefundAmount: 0, refundType: "", refundStatus: "", body: "", attach: "", fee: 0, rate: "0.60%", orderAmount: 100,
    requestedRefundAmount: 0, rateNote: "", ...p,
  };
}

const bill = (rows: BillRow[], consistent = true): ParsedBill => {
  const t = { count: rows.length, settlementTotal: 0, refundAmount: 0, couponRefundAmount: 0, fee: 0, orderAmount: 0, requestedRefundAmount: 0 };
  return { rows, summary: t, computed: t, consistent };
};

describe("compareBill", () => {
  it("finds nothing when both sides agree", () => {
    const diffs = compareBill(bill([row({}), row({ tradeState: "REFUND", outRefundNo: "R1", refundId: "5", refundAmount: 40, requestedRefundAmount: 40, refundStatus: "SUCCESS", orderAmount: 0 })]), {
      orders: [{ id: "o1", outTradeNo: "T1", status: "PARTIALLY_REFUNDED", amount: 100, paidAt: day.start + 5 }],
      refunds: [{ id: "r1", orderId: "o1", outRefundNo: "R1", amount: 40, status: "SUCCESS", settledAt: day.start + 9 }],
      day,
    });
    expect(diffs).toEqual([]);
  });

  it("classifies each difference", () => {
    const diffs = compareBill(
      bill(
        [
          row({ outTradeNo: "UNKNOWN" }),
          row({ outTradeNo: "PAYING1" }),
          row({ outTradeNo: "T2", orderAmount: 250 }),
          row({ tradeState: "REFUND", outTradeNo: "T2", outRefundNo: "R9", requestedRefundAmount: 10, refundStatus: "SUCCESS" }),
          row({ tradeState: "REFUND", outTradeNo: "T2", outRefundNo: "R2", requestedRefundAmount: 30, refundStatus: "SUCCESS" }),
        ],
        false,
      ),
      {
        orders: [
          { id: "p1", outTradeNo: "PAYING1", status: "PAYING", amount: 100, paidAt: null },
          { id: "o2", outTradeNo: "T2", status: "PAID", amount: 200, paidAt: day.start + 1 },
          { id: "o3", outTradeNo: "T3", status: "PAID", amount: 300, paidAt: day.start + 2 },
          { id: "o4", outTradeNo: "T4", status: "PAID", amount: 300, paidAt: day.end + 2 },
        ],
        refunds: [
          { id: "r2", orderId: "o2", outRefundNo: "R2", amount: 20, status: "PROCESSING", settledAt: null },
          { id: "r3", orderId: "o3", outRefundNo: "R3", amount: 5, status: "SUCCESS", settledAt: day.start + 3 },
        ],
        day,
      },
    );
    const got = diffs.map((d) => [d.kind, d.outTradeNo ?? d.outRefundNo, d.orderId]);
    expect(got).toEqual([
      ["missing_local", "UNKNOWN", null],
      ["missing_local", "PAYING1", "p1"],
      ["amount_mismatch", "T2", "o2"],
      ["missing_local", "T2", "o2"],
      ["amount_mismatch", "T2", "o2"],
      ["status_mismatch", "T2", "o2"],
      ["missing_remote", "T3", "o3"],
      ["missing_remote", "R3", "o3"],
      ["summary_mismatch", null, null],
    ]);
    expect(diffs[3]!.outRefundNo).toBe("R9");
    expect(diffs[4]!.detail).toMatchObject({ what: "refund", billAmount: 30, localAmount: 20 });
  });
});

import { describe, expect, it } from "vitest";
import { BillFormatError, parseTradeBill, splitTickedLine, yuanToUnits } from "../../../src/reconcile/bill";
import { toHex, utf8 } from "../../../src/lib/encoding";
import vectors from "../../fixtures/vectors.json";

async function fixture(): Promise<string> {
  const { default: text } = await import("../../fixtures/bill.ALL.csv?raw");
  return text as string;
}

describe("yuanToUnits (no floating point)", () => {
  it("converts yuan to integer fen exactly", () => {
    expect(yuanToUnits("0.47", 2)).toBe(47);
    expect(yuanToUnits("0.0", 2)).toBe(0);
    expect(yuanToUnits("12", 2)).toBe(1200);
    expect(yuanToUnits("1.1", 2)).toBe(110);
    // 0.29 * 100 is 28.999999999999996 in floating point; the parser never goes there.
    expect(yuanToUnits("0.29", 2)).toBe(29);
    expect(yuanToUnits("1234567.89", 2)).toBe(123456789);
    expect(yuanToUnits("-0.01", 2)).toBe(-1);
  });
  it("keeps the fee's five decimals as integer units", () => {
    expect(yuanToUnits("0.01000", 5)).toBe(1000);
    expect(yuanToUnits("0.00000", 5)).toBe(0);
    expect(yuanToUnits("-0.00060", 5)).toBe(-60);
  });
  it("rejects what is not an amount or has too many decimals", () => {
    expect(() => yuanToUnits("abc", 2)).toThrow(BillFormatError);
    expect(() => yuanToUnits("1.234", 2)).toThrow(BillFormatError);
    expect(() => yuanToUnits("1e3", 2)).toThrow(BillFormatError);
    expect(yuanToUnits("1.2300", 2)).toBe(123);
  });
});

describe("splitTickedLine", () => {
  it("splits back-ticked cells and keeps a bare comma inside a cell", () => {
    expect(splitTickedLine("`a,`b,c,`")).toEqual(["a", "b,c", ""]);
    expect(() => splitTickedLine("a,`b")).toThrow(BillFormatError);
  });
});

describe("parseTradeBill on the official fixture (test/fixtures/bill.ALL.csv)", () => {
  it("is the file the vectors describe (BOM kept; SHA-1 as in WECHATPAY.md)", async () => {
    const text = await fixture();
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const v = (vectors as unknown as { vectors?: { id: string; line_count: number }[] }).vectors ?? (vectors as unknown as { id: string; line_count: number }[]);
    const meta = v.find((x) => x.id === "tradebill-csv-fixture");
    expect(text.split("\n").filter(Boolean)).toHaveLength(meta!.line_count);
    const sha1 = toHex(await crypto.subtle.digest("SHA-1", utf8(text)));
    expect(sha1).toBe("9bb6cd819be348f17a9cbcedddc8eb62fefbd790");
  });

  it("parses 45 rows whose totals match the summary row", async () => {
    const bill = parseTradeBill(await fixture());
    expect(bill.rows).toHaveLength(45);
    expect(bill.summary).toEqual({
      count: 45,
      settlementTotal: 47,
      refundAmount: 14,
      couponRefundAmount: 0,
      fee: 8,
      orderAmount: 47,
      requestedRefundAmount: 14,
    });
    expect(bill.computed).toEqual(bill.summary);
    expect(bill.consistent).toBe(true);
  });

  it("types the cells: ids, states, fen, fee units; payment rows have no refund ids", async () => {
    const bill = parseTradeBill(await fixture());
    const first = bill.rows[0]!;
    expect(first).toMatchObject({
      tradeTime: "2019-02-19 05:01:46",
      appid: "wxab8acd895ab1638a",
      mchid: "1921000401",
      transactionId: "4200000263201902167700134212",
      outTradeNo: "autotest_20190216081946_82335",
      tradeState: "REFUND",
      refundId: "50000709672019011908420787722",
      outRefundNo: "REF4200000263201902167700963919",
      refundAmount: 1,
      requestedRefundAmount: 1,
      refundStatus: "SUCCESS",
      fee: 0,
      rate: "39.00%",
      rateNote: "",
    });
    const payment = bill.rows.find((r) => r.tradeState === "SUCCESS")!;
    expect(payment.refundId).toBeNull();
    expect(payment.outRefundNo).toBeNull();
    expect(bill.rows.filter((r) => r.tradeState === "REFUND").length + bill.rows.filter((r) => r.tradeState === "SUCCESS").length).toBe(45);
  });

  it("accepts bytes, CRLF lines and an integer count", async () => {
    const text = (await fixture()).replace(/\n/g, "\r\n").replace("`45.0,", "`45,");
    const bill = parseTradeBill(utf8(text));
    expect(bill.rows).toHaveLength(45);
    expect(bill.consistent).toBe(true);
  });

  it("reports a summary that does not add up", async () => {
    const text = (await fixture()).replace("`45.0,`0.47,", "`45.0,`0.48,");
    const bill = parseTradeBill(text);
    expect(bill.consistent).toBe(false);
    expect(bill.summary.settlementTotal).toBe(48);
    expect(bill.computed.settlementTotal).toBe(47);
  });

  it("rejects a wrong header, a short row and a missing summary", async () => {
    const text = await fixture();
    expect(() => parseTradeBill(text.replace("交易时间", "时间"))).toThrow(/27-column/);
    const lines = text.split("\n");
    lines[1] = lines[1]!.split(",`").slice(0, 20).join(",`");
    expect(() => parseTradeBill(lines.join("\n"))).toThrow(/not 27/);
    expect(() => parseTradeBill(text.split("\n").slice(0, 10).join("\n"))).toThrow(/summary/);
  });
});

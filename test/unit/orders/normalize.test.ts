import { describe, expect, it } from "vitest";
import { crossCheck, interpretTransaction, normalizeTransaction, parseWechatTime } from "../../../src/orders/normalize";
import type { Transaction } from "../../../src/wechat/pay/port";

const merchant = { appid: "wxd930ea5d5a258f4f", mchid: "1900000109" };
const order = { outTradeNo: "WX20261129ABCDEF", amount: 1800, currency: "CNY" };

function tx(over: Partial<Transaction> = {}): Transaction {
  return {
    appid: merchant.appid,
    mchid: merchant.mchid,
    out_trade_no: order.outTradeNo,
    transaction_id: "4200000000202611290000000001",
    trade_type: "JSAPI",
    trade_state: "SUCCESS",
    success_time: "2026-11-29T20:01:02+08:00",
    payer: { openid: "o-user" },
    amount: { total: 1800, payer_total: 1700, currency: "CNY", payer_currency: "CNY" },
    ...over,
  };
}

describe("normalizeTransaction", () => {
  it("SUCCESS → paid with transactionId, paidAt from success_time, payerTotal", () => {
    expect(normalizeTransaction(tx())).toEqual({
      kind: "paid",
      tradeState: "SUCCESS",
      transactionId: "4200000000202611290000000001",
      paidAt: Date.UTC(2026, 10, 29, 12, 1, 2),
      payerTotal: 1700,
    });
  });

  it("REFUND counts as paid", () => {
    expect(normalizeTransaction(tx({ trade_state: "REFUND" })).kind).toBe("paid");
  });

  it("NOTPAY, CLOSED and the rest", () => {
    expect(normalizeTransaction(tx({ trade_state: "NOTPAY", transaction_id: undefined, success_time: undefined }))).toEqual({ kind: "notpay" });
    expect(normalizeTransaction(tx({ trade_state: "CLOSED" }))).toEqual({ kind: "closed" });
    expect(normalizeTransaction(tx({ trade_state: "USERPAYING" }))).toEqual({ kind: "other", tradeState: "USERPAYING" });
    expect(normalizeTransaction(tx({ trade_state: "PAYERROR" }))).toEqual({ kind: "other", tradeState: "PAYERROR" });
  });

  it("a paid state without transaction_id or a readable success_time is malformed", () => {
    expect(normalizeTransaction(tx({ transaction_id: undefined })).kind).toBe("malformed");
    expect(normalizeTransaction(tx({ success_time: "yesterday" })).kind).toBe("malformed");
  });

  it("parses RFC 3339 times with offsets and Z, refuses others", () => {
    expect(parseWechatTime("2026-11-29T20:00:00+08:00")).toBe(Date.UTC(2026, 10, 29, 12));
    expect(parseWechatTime("2026-11-29T12:00:00Z")).toBe(Date.UTC(2026, 10, 29, 12));
    expect(parseWechatTime("2026-11-29 12:00:00")).toBeNull();
    expect(parseWechatTime(12345)).toBeNull();
  });
});

describe("crossCheck", () => {
  it("a matching transaction has no mismatch; currency defaults to CNY", () => {
    expect(crossCheck(order, tx(), merchant)).toEqual([]);
    expect(crossCheck(order, tx({ amount: { total: 1800 } }), merchant)).toEqual([]);
  });

  it.each([
    ["appid_mismatch", { appid: "wxother" }],
    ["mchid_mismatch", { mchid: "1999999999" }],
    ["out_trade_no_mismatch", { out_trade_no: "WXother" }],
    ["amount_mismatch", { amount: { total: 1, currency: "CNY" } }],
    ["amount_mismatch", { amount: undefined }],
    ["currency_mismatch", { amount: { total: 1800, currency: "USD" } }],
  ] as const)("%s", (kind, over) => {
    const m = crossCheck(order, tx(over as Partial<Transaction>), merchant);
    expect(m.map((x) => x.kind)).toEqual([kind]);
  });

  it("an unpaid answer without an amount is fine; with a wrong one it is not", () => {
    expect(crossCheck(order, tx({ trade_state: "NOTPAY", amount: undefined }), merchant)).toEqual([]);
    expect(crossCheck(order, tx({ trade_state: "NOTPAY", amount: { total: 5 } }), merchant).map((m) => m.kind)).toEqual(["amount_mismatch"]);
  });
});

describe("interpretTransaction", () => {
  it("never turns a mismatching SUCCESS into a payment", () => {
    const r = interpretTransaction(order, tx({ amount: { total: 1 }, appid: "wxother" }), merchant);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.mismatches.map((m) => m.kind).sort()).toEqual(["amount_mismatch", "appid_mismatch"]);
  });

  it("flags a malformed paid transaction", () => {
    const r = interpretTransaction(order, tx({ transaction_id: "" }), merchant);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.mismatches.map((m) => m.kind)).toEqual(["malformed_transaction"]);
  });

  it("passes a matching one through", () => {
    const r = interpretTransaction(order, tx(), merchant);
    expect(r.ok && r.result.kind).toBe("paid");
  });
});

/** Normalising a decrypted push (push/event.ts): the dedupe key, the flag, JSON and XML alike. */
import { describe, expect, it } from "vitest";
import { toPushEvent } from "../../../src/push/event";

const settlement = {
  ToUserName: "gh_97417a04a28d",
  FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
  CreateTime: 1764500000,
  MsgType: "event",
  Event: "trade_manage_order_settlement",
  transaction_id: "4200001234202611290000000001",
  merchant_trade_no: "WX20261129ABC",
  confirm_receive_method: 2,
};

describe("toPushEvent", () => {
  it("trade events dedupe by event, transaction and CreateTime — the same from JSON numbers and XML strings", () => {
    const json = toPushEvent(settlement);
    const xml = toPushEvent({ ...settlement, CreateTime: "1764500000", confirm_receive_method: "1" });
    expect(json.dedupeKey).toBe("trade_manage_order_settlement:4200001234202611290000000001:1764500000");
    expect(xml.dedupeKey).toBe(json.dedupeKey);
    expect(json).toMatchObject({ createTime: 1764500000, transactionId: settlement.transaction_id, merchantTradeNo: "WX20261129ABC", flag: null, needsDispatch: true });
  });

  it("maps the two flagging events and nothing else", () => {
    expect(toPushEvent({ ...settlement, Event: "trade_manage_remind_shipping" }).flag).toBe("shipping_overdue");
    expect(toPushEvent({ ...settlement, Event: "wxa_trade_controlled" }).flag).toBe("trade_controlled");
    const other = toPushEvent({ ...settlement, Event: "trade_manage_remind_access_api" });
    expect([other.flag, other.needsDispatch]).toEqual([null, false]);
  });

  it("events without a transaction dedupe by sender and CreateTime; messages by MsgId", () => {
    const { transaction_id: _t, merchant_trade_no: _m, ...bare } = settlement;
    expect(toPushEvent({ ...bare, Event: "debug_demo" }).dedupeKey).toBe("debug_demo:from:o9AgO5Kd5ggOC-bXrbNODIiE3bGY:1764500000");
    expect(toPushEvent({ ...bare, MsgType: "text", Content: "hi", MsgId: "24601" }).dedupeKey).toBe("msg:24601");
    expect(toPushEvent({ ...bare, MsgType: "text", Content: "hi", MsgId: 24601 }).event).toBe("text");
  });

  it.each([
    [{ CreateTime: undefined }, /CreateTime/],
    [{ CreateTime: "12a" }, /CreateTime/],
    [{ CreateTime: -1 }, /CreateTime/],
    [{ CreateTime: 1.5 }, /CreateTime/],
    [{ MsgType: undefined }, /MsgType/],
    [{ MsgType: { a: 1 } }, /MsgType/],
    [{ Event: "" }, /Event/],
    [{ Event: "a b" }, /Event/],
    [{ transaction_id: { a: 1 } }, /transaction_id/],
    [{ transaction_id: "x".repeat(129) }, /transaction_id/],
    [{ merchant_trade_no: "with space" }, /merchant_trade_no/],
  ])("refuses %o (400)", (over, re) => {
    expect(() => toPushEvent({ ...settlement, ...over })).toThrow(re);
    try {
      toPushEvent({ ...settlement, ...over });
    } catch (e) {
      expect(e).toMatchObject({ status: 400, code: "bad_message" });
    }
  });
});

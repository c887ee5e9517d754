/** The shipping state machine and the upload body builders (SPEC §9, WECHATPAY.md N), pure. */
import { describe, expect, it } from "vitest";
import { SHIPPING_STATUSES, type ShippingStatus } from "../../../src/db/schema";
import { decideUpload, MAX_ATTEMPTS, NOT_VISIBLE_WINDOW_MS, RANK, statusFromWechat } from "../../../src/shipping/state";
import { maskedContact } from "../../../src/shipping/request";
import { formatUploadTime, itemDescOf, parseGetOrder, uploadBody } from "../../../src/wechat/server/shipping";

const wx = (orderState: number, finishShipping = orderState >= 2, finishShippingCount = finishShipping ? 1 : 0) => ({ orderState, finishShipping, finishShippingCount });

describe("decideUpload", () => {
  it("accepted → SHIPPED; terminal → FAILED flagged", () => {
    expect(decideUpload({ kind: "uploaded" }, { attempts: 1, msSincePaid: 0 })).toMatchObject({ status: "SHIPPED", flag: null });
    expect(decideUpload({ kind: "terminal", code: "errcode_10060031" }, { attempts: 1, msSincePaid: 0 })).toMatchObject({ status: "FAILED", flag: "shipping_failed", retryInMs: null });
  });

  it("10060001: first retry within a minute, retried for an hour after payment, then FAILED", () => {
    const first = decideUpload({ kind: "not_visible" }, { attempts: 1, msSincePaid: 1_000 });
    expect(first.status).toBe("UPLOADING");
    expect(first.retryInMs).toBeLessThanOrEqual(60_000);
    expect(decideUpload({ kind: "not_visible" }, { attempts: 9, msSincePaid: NOT_VISIBLE_WINDOW_MS - 1 }).status).toBe("UPLOADING");
    expect(decideUpload({ kind: "not_visible" }, { attempts: 9, msSincePaid: NOT_VISIBLE_WINDOW_MS })).toMatchObject({ status: "FAILED", flag: "shipping_failed" });
  });

  it("retryable and unknown outcomes back off; unknown asks get_order next; both give up after MAX_ATTEMPTS", () => {
    expect(decideUpload({ kind: "retryable", code: "errcode_-1" }, { attempts: 1, msSincePaid: 0 })).toMatchObject({ status: "UPLOADING", outcomeUnknown: false });
    const u = decideUpload({ kind: "unknown", code: "unknown_outcome" }, { attempts: 2, msSincePaid: 0 });
    expect(u).toMatchObject({ status: "UPLOADING", outcomeUnknown: true });
    expect(u.retryInMs!).toBeGreaterThan(decideUpload({ kind: "unknown", code: "x" }, { attempts: 1, msSincePaid: 0 }).retryInMs!);
    expect(decideUpload({ kind: "retryable", code: "x" }, { attempts: MAX_ATTEMPTS, msSincePaid: 0 }).status).toBe("FAILED");
  });
});

describe("statusFromWechat (get_order's order_state)", () => {
  it("1 → no change; 2 → SHIPPED; 3 and 6 → RECEIVED; 4 → SETTLED; 5 ends a pending upload", () => {
    expect(statusFromWechat("UPLOADING", wx(1), 0)).toBeNull();
    expect(statusFromWechat("UPLOADING", wx(2), 0)).toBe("SHIPPED");
    expect(statusFromWechat("SHIPPED", wx(3), 1)).toBe("RECEIVED");
    expect(statusFromWechat("SHIPPED", wx(6), 1)).toBe("RECEIVED");
    expect(statusFromWechat("RECEIVED", wx(4), 1)).toBe("SETTLED");
    expect(statusFromWechat("UPLOADING", wx(5, false), 0)).toBe("FAILED");
    expect(statusFromWechat("SHIPPED", wx(5), 1)).toBeNull();
  });

  it("a re-ship in progress is not done until WeChat counts it", () => {
    expect(statusFromWechat("UPLOADING", wx(2, true, 1), 1)).toBeNull();
    expect(statusFromWechat("UPLOADING", wx(2, true, 2), 1)).toBe("SHIPPED");
  });

  it("never moves a record backwards, over every status × state", () => {
    for (const s of SHIPPING_STATUSES as readonly ShippingStatus[]) {
      for (let st = 1; st <= 6; st++) {
        const t = statusFromWechat(s, wx(st), 1);
        if (t !== null && t !== "FAILED") expect(RANK[t], `${s} + ${st}`).toBeGreaterThan(RANK[s]);
      }
    }
  });
});

describe("upload body (N.1)", () => {
  it("upload_time is RFC 3339 in +08:00 with milliseconds", () => {
    expect(formatUploadTime(Date.UTC(2022, 11, 15, 5, 29, 35, 120))).toBe("2022-12-15T13:29:35.120+08:00");
  });

  it("item_desc from the lines, at most 120 characters (code points)", () => {
    expect(itemDescOf([{ name: "微信气泡狗集线器", quantity: 1 }, { name: "Tea", quantity: 2 }])).toBe("微信气泡狗集线器*1;Tea*2");
    const long = itemDescOf(Array.from({ length: 30 }, (_, i) => ({ name: `商品${i}🧧`, quantity: 1 })));
    expect(Array.from(long)).toHaveLength(120);
    expect(long.endsWith("…")).toBe(true);
  });

  it("order_key by transaction_id; unified vs split delivery; contacts only when given", () => {
    const base = { transactionId: "4200", payerOpenid: "o1", uploadTime: "t", isAllDelivered: false };
    expect(uploadBody({ ...base, logisticsType: "virtual", parcels: [{ itemDesc: "card" }] })).toEqual({
      order_key: { order_number_type: 2, transaction_id: "4200" },
      logistics_type: 3,
      delivery_mode: 1,
      shipping_list: [{ item_desc: "card" }],
      upload_time: "t",
      payer: { openid: "o1" },
    });
    const split = uploadBody({ ...base, logisticsType: "express", parcels: [{ itemDesc: "a", trackingNo: "1", expressCompany: "SF", contact: { receiverContact: "138****1234" } }, { itemDesc: "b", trackingNo: "2", expressCompany: "YTO" }] });
    expect(split).toMatchObject({ delivery_mode: 2, is_all_delivered: false, logistics_type: 1 });
    expect((split.shipping_list as unknown[])[0]).toEqual({ tracking_no: "1", express_company: "SF", item_desc: "a", contact: { receiver_contact: "138****1234" } });
  });

  it("masks a plain contact, keeps a masked one", () => {
    expect(maskedContact("13812341234")).toBe("138****1234");
    expect(maskedContact("021-****1234")).toBe("021-****1234");
  });

  it("get_order: order_state and the shipping counters; a malformed answer is an unknown outcome", () => {
    expect(parseGetOrder({ order: { order_state: 2, shipping: { finish_shipping: true, finish_shipping_count: 1, upload_scene: 1 } } })).toEqual(wx(2, true, 1));
    expect(() => parseGetOrder({ order: { order_state: 9 } })).toThrow();
    expect(() => parseGetOrder({})).toThrow();
  });
});

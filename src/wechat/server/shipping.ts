/**
 * @module wechat/server/shipping — the order-shipping APIs (发货信息管理, WECHATPAY.md N):
 * building `upload_shipping_info` bodies (N.1), reading `get_order` (N.4), `set_msg_jump_path`
 * (N.7) and `is_trade_managed` (N.8). Pure builders and parsers, plus thin calls through the
 * server-API client. Note the key names: upload takes `order_key.transaction_id`, get_order a
 * top-level `transaction_id` (N.4).
 */
import type { LogisticsType } from "../../db/schema";
import type { ServerApi } from "./client";
import { WxUnknownOutcomeError } from "./errors";

export const SHIPPING_API = {
  upload: "wxa/sec/order/upload_shipping_info",
  getOrder: "wxa/sec/order/get_order",
  jumpPath: "wxa/sec/order/set_msg_jump_path",
  tradeManaged: "wxa/sec/order/is_trade_managed",
} as const;

/** N.1 `logistics_type`. */
export const LOGISTICS_CODE: Record<LogisticsType, 1 | 2 | 3 | 4> = { express: 1, same_city: 2, virtual: 3, pickup: 4 };

/** N.1: `item_desc` is at most 120 characters. */
export const ITEM_DESC_MAX = 120;

export interface Parcel {
  trackingNo?: string | undefined;
  expressCompany?: string | undefined;
  itemDesc: string;
  contact?: { consignorContact?: string | undefined; receiverContact?: string | undefined } | undefined;
}

export interface UploadInput {
  transactionId: string;
  payerOpenid: string;
  logisticsType: LogisticsType;
  parcels: Parcel[];
  /** Split delivery only (several express parcels): whether this upload completes it. */
  isAllDelivered: boolean;
  uploadTime: string;
}

const BEIJING_OFFSET_MS = 8 * 3600_000;

/** RFC 3339 in +08:00 with milliseconds, like the official example `2022-12-15T13:29:35.120+08:00` (N.1). */
export function formatUploadTime(ms: number): string {
  return `${new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 23)}+08:00`;
}

/** "Pour-over coffee*2;Longjing green tea*1", cut to 120 characters (code points) with an ellipsis. */
export function itemDescOf(lines: { name: string; quantity: number }[]): string {
  const full = lines.map((l) => `${l.name}*${l.quantity}`).join(";");
  const chars = Array.from(full);
  return chars.length <= ITEM_DESC_MAX ? full : `${chars.slice(0, ITEM_DESC_MAX - 1).join("")}…`;
}

export function uploadBody(u: UploadInput): Record<string, unknown> {
  const split = u.parcels.length > 1;
  return {
    order_key: { order_number_type: 2, transaction_id: u.transactionId },
    logistics_type: LOGISTICS_CODE[u.logisticsType],
    delivery_mode: split ? 2 : 1,
    ...(split ? { is_all_delivered: u.isAllDelivered } : {}),
    shipping_list: u.parcels.map((p) => ({
      ...(p.trackingNo ? { tracking_no: p.trackingNo } : {}),
      ...(p.expressCompany ? { express_company: p.expressCompany } : {}),
      item_desc: p.itemDesc,
      ...(p.contact && (p.contact.consignorContact || p.contact.receiverContact)
        ? {
            contact: {
              ...(p.contact.consignorContact ? { consignor_contact: p.contact.consignorContact } : {}),
              ...(p.contact.receiverContact ? { receiver_contact: p.contact.receiverContact } : {}),
            },
          }
        : {}),
    })),
    upload_time: u.uploadTime,
    payer: { openid: u.payerOpenid },
  };
}

/** What `get_order` says about a payment's shipping (N.4), as far as we act on it. */
export interface WechatShippingState {
  /** 1 awaiting shipment · 2 shipped · 3 received · 4 settled · 5 refunded · 6 received, funds pending. */
  orderState: number;
  finishShipping: boolean;
  finishShippingCount: number;
}

export function parseGetOrder(body: Record<string, unknown>): WechatShippingState {
  const order = body.order as Record<string, unknown> | undefined;
  const state = order?.order_state;
  if (!order || typeof state !== "number" || !Number.isInteger(state) || state < 1 || state > 6) {
    throw new WxUnknownOutcomeError(SHIPPING_API.getOrder, "not_json");
  }
  const shipping = (order.shipping ?? {}) as Record<string, unknown>;
  return {
    orderState: state,
    finishShipping: shipping.finish_shipping === true,
    finishShippingCount: typeof shipping.finish_shipping_count === "number" ? shipping.finish_shipping_count : 0,
  };
}

export const uploadShippingInfo = (api: ServerApi, u: UploadInput) => api.call(SHIPPING_API.upload, uploadBody(u));

export const getShippingState = async (api: ServerApi, transactionId: string) =>
  parseGetOrder(await api.call(SHIPPING_API.getOrder, { transaction_id: transactionId }));

export const setMsgJumpPath = (api: ServerApi, path: string) => api.call(SHIPPING_API.jumpPath, { path });

export async function isTradeManaged(api: ServerApi, appid: string): Promise<boolean> {
  const b = await api.call(SHIPPING_API.tradeManaged, { appid });
  if (typeof b.is_trade_managed !== "boolean") throw new WxUnknownOutcomeError(SHIPPING_API.tradeManaged, "not_json");
  return b.is_trade_managed;
}

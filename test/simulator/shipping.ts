/**
 * @module test/simulator/shipping — order shipping information management (WECHATPAY.md N):
 * `upload_shipping_info` with WeChat's validation and error codes (N.1–N.3), `get_order` (N.4),
 * `set_msg_jump_path` (N.7), `is_trade_managed` (N.8), plus the buyer's side — confirming
 * receipt and settlement — as controls that push `trade_manage_order_settlement` (O.9).
 *
 * Rules played: a payment is invisible for `shippingVisibleAfterMs` after it succeeds (the race
 * after payment, N.2: 10060001); one re-ship (a second full upload with other data; a third is
 * 10060003, the same data again 10060023 or, after the re-ship, 10060002); split delivery only
 * for express; SF parcels need a masked contact; `upload_time` must be RFC 3339 and later than
 * the previous one; refunded in full → 10060004.
 */
import type { Hono } from "hono";
import type { SimEnv } from "./auth";
import type { SimContext } from "./context";
import { checkAccessToken } from "./tokens";
import type { SimTransaction } from "./types";
import { jsonBody, wxErr, wxOk, type SimParcel, type SimShipping, type TradeEvent } from "./wxstate";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** Masked with the last 4 digits visible (N.1): `189****1234`, `021-****1234`, `0**2-******23-10`. */
const MASKED = /^[+0-9*-]*\*[+0-9*-]*$/;
const bytes = (s: string) => new TextEncoder().encode(s).length;
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
const unix = (ms: number) => Math.floor(ms / 1000);

function lastFourVisible(s: string): boolean {
  return MASKED.test(s) && /\d{4}$/.test(s.replace(/-/g, ""));
}

function findPaid(sim: SimContext, key: { transactionId?: unknown; mchid?: unknown; outTradeNo?: unknown }): SimTransaction | undefined {
  for (const t of sim.state.transactions.values()) {
    if (t.state !== "SUCCESS" || !t.transactionId) continue;
    if (typeof key.transactionId === "string" ? t.transactionId === key.transactionId : t.mchid === key.mchid && t.outTradeNo === key.outTradeNo) return t;
  }
  return undefined;
}

const visible = (sim: SimContext, t: SimTransaction) => sim.clock.now() >= (t.successTime ?? 0) + sim.state.wx.shippingVisibleAfterMs;

function refundedInFull(sim: SimContext, t: SimTransaction): boolean {
  let sum = 0;
  for (const r of sim.state.refunds.values()) if (r.outTradeNo === t.outTradeNo && r.status === "SUCCESS") sum += r.refund;
  return sum >= t.total;
}

export function shippingOf(sim: SimContext, t: SimTransaction): SimShipping {
  let s = sim.state.wx.shipping.get(t.transactionId!);
  if (!s) {
    s = {
      transactionId: t.transactionId!,
      orderState: 1,
      deliveryMode: null,
      logisticsType: null,
      finishShipping: false,
      finishShippingCount: 0,
      shippingList: [],
      lastBody: null,
      lastUploadTime: null,
      uploads: 0,
      shippedAt: null,
      confirmedAt: null,
      settledAt: null,
    };
    sim.state.wx.shipping.set(t.transactionId!, s);
  }
  if (refundedInFull(sim, t)) s.orderState = 5;
  return s;
}

/** The checks of N.1/N.3 on the body alone: null when valid, else [errcode, errmsg]. */
function validateUpload(b: Record<string, unknown>): [number, string] | null {
  const key = b.order_key;
  if (!isObj(key)) return [10060014, "order_key missing"];
  if (key.order_number_type === 2) {
    if (typeof key.transaction_id !== "string" || key.transaction_id === "") return [268485195, "transaction_id required"];
  } else if (key.order_number_type === 1) {
    if (typeof key.mchid !== "string" || key.mchid === "") return [268485196, "mchid required"];
    if (typeof key.out_trade_no !== "string" || key.out_trade_no === "") return [268485197, "out_trade_no required"];
  } else return [268485194, "invalid order_number_type"];
  if (![1, 2, 3, 4].includes(b.logistics_type as number)) return [10060005, "物流类型有误"];
  if (b.delivery_mode !== 1 && b.delivery_mode !== 2) return [268485224, "invalid delivery_mode"];
  if (b.delivery_mode === 2 && b.logistics_type !== 1) return [10060006, "非快递发货时不允许分拆发货"];
  if (b.delivery_mode === 2 && typeof b.is_all_delivered !== "boolean") return [10060007, "分拆发货模式下必须填写 is_all_delivered"];
  const list = b.shipping_list;
  if (!Array.isArray(list) || list.length === 0) return [10060014, "shipping_list required"];
  if (list.length > 15) return [10060024, "shipping_list too long"];
  if (b.delivery_mode === 1 && list.length !== 1) return [268485228, "unified delivery needs exactly one shipping_list entry"];
  for (const p of list) {
    if (!isObj(p)) return [10060014, "shipping_list entry must be an object"];
    if (typeof p.item_desc !== "string" || p.item_desc === "") return [10060008, "item_desc must not be empty"];
    if (Array.from(p.item_desc).length > 120) return [10060009, "item_desc too long"];
    if (b.logistics_type === 1) {
      if (typeof p.tracking_no !== "string" || p.tracking_no === "") return [268485226, "tracking_no required"];
      if (typeof p.express_company !== "string" || p.express_company === "") return [268485227, "express_company required"];
    }
    if (typeof p.tracking_no === "string" && bytes(p.tracking_no) > 128) return [10060026, "tracking_no too long"];
    if (typeof p.express_company === "string" && bytes(p.express_company) > 128) return [10060025, "express_company too long"];
    if (p.express_company === "SF") {
      const c = p.contact;
      const ok = isObj(c) && [c.consignor_contact, c.receiver_contact].some((v) => typeof v === "string" && lastFourVisible(v));
      if (!ok) return [10060014, "参数错误: contact required for SF, masked with the last 4 digits visible"];
    }
    if (isObj(p.contact)) {
      for (const v of [p.contact.consignor_contact, p.contact.receiver_contact]) {
        if (v !== undefined && (typeof v !== "string" || !lastFourVisible(v))) return [10060014, "参数错误: contact must be masked, last 4 digits visible"];
      }
    }
  }
  if (typeof b.upload_time !== "string" || !RFC3339.test(b.upload_time) || Number.isNaN(Date.parse(b.upload_time))) {
    return [268485216, "上传时间非法，请按照 RFC 3339 格式填写"];
  }
  if (!isObj(b.payer) || typeof b.payer.openid !== "string" || b.payer.openid === "") return [10060014, "payer.openid required"];
  return null;
}

export function registerShipping(app: Hono<SimEnv>, sim: SimContext, push: (e: TradeEvent) => Promise<void>): void {
  const authed = (path: string, handler: (b: Record<string, unknown>) => Response | Promise<Response>) =>
    app.post(path, async (c) => {
      const denied = checkAccessToken(sim, c.req.raw);
      if (denied) return denied;
      const b = await jsonBody(c.req.raw);
      if (!b) return wxErr(47001, "data format error");
      return handler(b);
    });

  authed("/wxa/sec/order/upload_shipping_info", async (b) => {
    const invalid = validateUpload(b);
    if (invalid) return wxErr(...invalid);
    const key = b.order_key as Record<string, unknown>;
    const t = findPaid(sim, { transactionId: key.transaction_id, mchid: key.mchid, outTradeNo: key.out_trade_no });
    if (!t || !visible(sim, t)) return wxErr(10060001, "支付单不存在");
    if ((b.payer as Record<string, unknown>).openid !== t.openid) return wxErr(10060031, "该笔支付单不属于 openid 所指定的用户");
    const s = shippingOf(sim, t);
    if (s.orderState !== 1 && s.orderState !== 2) return wxErr(10060004, "支付单处于不可发货的状态");
    const uploadMs = Date.parse(b.upload_time as string);
    if (s.lastUploadTime !== null && uploadMs <= Date.parse(s.lastUploadTime)) return wxErr(10060014, "参数错误: upload_time must be later than the previous upload");
    const canonical = JSON.stringify([b.logistics_type, b.delivery_mode, b.shipping_list]);
    if (s.finishShipping) {
      if (canonical === s.lastBody) return s.finishShippingCount === 2 ? wxErr(10060002, "支付单已完成发货，无法继续发货") : wxErr(10060023, "发货信息未更新");
      if (s.finishShippingCount === 2) return wxErr(10060003, "支付单已使用重新发货机会");
    }
    const parcels = (b.shipping_list as Record<string, unknown>[]).map((p): SimParcel => ({
      ...(typeof p.tracking_no === "string" ? { tracking_no: p.tracking_no } : {}),
      ...(typeof p.express_company === "string" ? { express_company: p.express_company } : {}),
      item_desc: p.item_desc as string,
      ...(isObj(p.contact) ? { contact: p.contact as SimParcel["contact"] } : {}),
      upload_time: unix(uploadMs),
    }));
    const reship = s.finishShipping;
    const split = b.delivery_mode === 2;
    s.shippingList = split && !reship ? [...s.shippingList, ...parcels] : parcels;
    s.deliveryMode = b.delivery_mode as number;
    s.logisticsType = b.logistics_type as number;
    s.lastBody = canonical;
    s.lastUploadTime = b.upload_time as string;
    s.uploads++;
    const finished = !split || b.is_all_delivered === true;
    if (finished) {
      s.finishShipping = true;
      s.finishShippingCount = reship ? 2 : 1;
      s.orderState = 2;
      s.shippedAt = sim.clock.now();
      await push(settlementEvent(sim, t, s, { estimated_settlement_time: unix(sim.clock.now()) + (s.logisticsType === 1 ? 10 : 2) * 86400 }));
    }
    return wxOk();
  });

  authed("/wxa/sec/order/get_order", (b) => {
    if (typeof b.transaction_id !== "string" && (typeof b.merchant_id !== "string" || typeof b.merchant_trade_no !== "string")) {
      return wxErr(10060014, "参数错误: transaction_id or merchant_id + merchant_trade_no");
    }
    const t = findPaid(sim, { transactionId: b.transaction_id, mchid: b.merchant_id, outTradeNo: b.merchant_trade_no });
    if (!t || !visible(sim, t)) return wxErr(10060001, "支付单不存在");
    return wxOk({ order: orderView(sim, t, shippingOf(sim, t)) });
  });

  authed("/wxa/sec/order/set_msg_jump_path", (b) => {
    if (typeof b.path !== "string") return wxErr(10060014, "参数错误: path");
    sim.state.wx.msgJumpPath = b.path;
    return wxOk();
  });

  authed("/wxa/sec/order/is_trade_managed", (b) => {
    if (typeof b.appid !== "string" || b.appid === "") return wxErr(40097, "invalid args: appid");
    if (b.appid !== sim.opts.appid) return wxErr(40013, "invalid appid");
    return wxOk({ is_trade_managed: sim.state.wx.tradeManaged });
  });
}

/** get_order's `order` (N.4). */
export function orderView(sim: SimContext, t: SimTransaction, s: SimShipping): Record<string, unknown> {
  return {
    transaction_id: t.transactionId,
    merchant_id: t.mchid,
    sub_merchant_id: "",
    merchant_trade_no: t.outTradeNo,
    description: t.description,
    paid_amount: t.total,
    openid: t.openid,
    trade_create_time: unix(t.createdAt),
    pay_time: unix(t.successTime ?? t.createdAt),
    order_state: s.orderState,
    in_complaint: false,
    shipping: {
      delivery_mode: s.deliveryMode,
      logistics_type: s.logisticsType,
      finish_shipping: s.finishShipping,
      goods_desc: s.shippingList.map((p) => p.item_desc).join(";").slice(0, 120),
      finish_shipping_count: s.finishShippingCount,
      upload_scene: 1,
      shipping_list: s.shippingList.map((p) => ({
        tracking_no: p.tracking_no ?? "",
        express_company: p.express_company ?? "",
        goods_desc: p.item_desc,
        upload_time: p.upload_time,
        contact: { consignor_contact: p.contact?.consignor_contact ?? "", receiver_contact: p.contact?.receiver_contact ?? "" },
      })),
    },
  };
}

function settlementEvent(sim: SimContext, t: SimTransaction, s: SimShipping, extra: Record<string, unknown>): TradeEvent {
  return {
    ToUserName: "gh_simulator0001",
    FromUserName: "o_system_simulator",
    CreateTime: unix(sim.clock.now()),
    MsgType: "event",
    Event: "trade_manage_order_settlement",
    transaction_id: t.transactionId,
    merchant_id: t.mchid,
    sub_merchant_id: "",
    merchant_trade_no: t.outTradeNo,
    pay_time: unix(t.successTime ?? t.createdAt),
    shipped_time: s.shippedAt === null ? 0 : unix(s.shippedAt),
    ...extra,
  };
}

function shippedRecord(sim: SimContext, transactionId: string): { t: SimTransaction; s: SimShipping } {
  const t = findPaid(sim, { transactionId });
  if (!t) throw new Error(`no paid transaction ${transactionId}`);
  return { t, s: shippingOf(sim, t) };
}

/**
 * The buyer confirms receipt (state 2 → 3, or 6 with `pendingFunds`). `method` is what the push
 * says — WeChat is reported to send it swapped (O.9), so the Worker must not trust it.
 */
export async function confirmReceipt(
  sim: SimContext,
  push: (e: TradeEvent) => Promise<void>,
  transactionId: string,
  opts: { method?: 1 | 2; pendingFunds?: boolean } = {},
): Promise<SimShipping> {
  const { t, s } = shippedRecord(sim, transactionId);
  if (s.orderState !== 2) throw new Error(`transaction ${transactionId} is not shipped (order_state ${s.orderState})`);
  s.orderState = opts.pendingFunds ? 6 : 3;
  s.confirmedAt = sim.clock.now();
  await push(settlementEvent(sim, t, s, { confirm_receive_method: opts.method ?? 1, confirm_receive_time: unix(s.confirmedAt) }));
  return s;
}

/** Funds settle (state 2/3/6 → 4; from 2 it is the automatic confirmation after T+10/T+2). */
export async function settle(sim: SimContext, push: (e: TradeEvent) => Promise<void>, transactionId: string): Promise<SimShipping> {
  const { t, s } = shippedRecord(sim, transactionId);
  if (![2, 3, 6].includes(s.orderState)) throw new Error(`transaction ${transactionId} cannot settle from order_state ${s.orderState}`);
  const auto = s.orderState === 2;
  s.confirmedAt ??= sim.clock.now();
  s.orderState = 4;
  s.settledAt = sim.clock.now();
  await push(
    settlementEvent(sim, t, s, {
      confirm_receive_method: auto ? 2 : 1,
      confirm_receive_time: unix(s.confirmedAt),
      settlement_time: unix(s.settledAt),
    }),
  );
  return s;
}

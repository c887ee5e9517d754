/**
 * @module push/event — a decrypted push message normalised into the few facts the Worker acts on
 * (WECHATPAY.md O.9, SPEC §9): which event, which payment, when, and the key that makes WeChat's
 * retries of one push the same row. Pure.
 *
 * XML leaves are strings, JSON has numbers: both are accepted for CreateTime and the ids. Time
 * fields other than CreateTime are never relied on (O.9: reported empty in settlement pushes), and
 * `confirm_receive_method` is never read (reported swapped): the state comes from `get_order`.
 */
import { PushMalformed } from "../wechat/push/errors";

export const PUSH_EVENTS = {
  /** Shipped, and again settled: refresh the shipping record from get_order. */
  orderSettlement: "trade_manage_order_settlement",
  /** Unshipped for more than 48 h: flag `shipping_overdue`. */
  remindShipping: "trade_manage_remind_shipping",
  /** Payments restricted: flag `trade_controlled`. */
  tradeControlled: "wxa_trade_controlled",
} as const;

/** The flag each event raises, if any. */
export const PUSH_FLAGS: Partial<Record<string, string>> = {
  [PUSH_EVENTS.remindShipping]: "shipping_overdue",
  [PUSH_EVENTS.tradeControlled]: "trade_controlled",
};

export interface PushEvent {
  /** `Event` for MsgType=event, else the MsgType (a customer-service message, say). */
  event: string;
  createTime: number;
  transactionId: string | null;
  merchantTradeNo: string | null;
  dedupeKey: string;
  /** The flag this event raises, or null. */
  flag: string | null;
  /** Work to do after the answer (the settlement refresh). */
  needsDispatch: boolean;
  /** WeChat's own text (`msg`), kept in the flag's detail. */
  msg: string | null;
  fields: Record<string, unknown>;
}

const MAX_ID = 128;

/** A string id, or a JSON integer written as one; null when absent or empty. */
function idOf(v: unknown, name: string): string | null {
  if (v === undefined || v === null || v === "") return null;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (typeof v === "string" && v.length <= MAX_ID && /^[\x21-\x7e]+$/.test(v)) return v;
  throw new PushMalformed("bad_message", `the push's ${name} is not an id`);
}

function nameOf(v: unknown, name: string): string {
  if (typeof v !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(v)) throw new PushMalformed("bad_message", `the push has no valid ${name}`);
  return v;
}

export function toPushEvent(fields: Record<string, unknown>): PushEvent {
  const ct = fields.CreateTime;
  const createTime = typeof ct === "number" ? ct : typeof ct === "string" && /^[0-9]{1,12}$/.test(ct) ? Number(ct) : NaN;
  if (!Number.isSafeInteger(createTime) || createTime < 0) throw new PushMalformed("bad_message", "the push has no CreateTime (unix seconds)");
  const msgType = nameOf(fields.MsgType, "MsgType");
  const event = msgType === "event" ? nameOf(fields.Event, "Event") : msgType;
  const transactionId = idOf(fields.transaction_id, "transaction_id");
  const merchantTradeNo = idOf(fields.merchant_trade_no, "merchant_trade_no");
  const msgId = idOf(fields.MsgId, "MsgId");
  // O.6: events dedupe by who and when (trade events: by payment and when), messages by MsgId.
  const dedupeKey = msgId
    ? `msg:${msgId}`
    : `${event}:${transactionId ?? `from:${typeof fields.FromUserName === "string" ? fields.FromUserName.slice(0, MAX_ID) : ""}`}:${createTime}`;
  return {
    event,
    createTime,
    transactionId,
    merchantTradeNo,
    dedupeKey,
    flag: PUSH_FLAGS[event] ?? null,
    needsDispatch: event === PUSH_EVENTS.orderSettlement,
    msg: typeof fields.msg === "string" ? fields.msg.slice(0, 500) : null,
    fields,
  };
}

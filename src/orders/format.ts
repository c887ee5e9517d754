/**
 * @module orders/format — the small pure pieces of an order: its out_trade_no, WeChat's
 * time_expire string, the description, the request hash for idempotency, the list cursor and
 * the public JSON shape (SPEC §3).
 */
import { fromBase64Url, fromUtf8, sha256Hex, toBase64Url, utf8 } from "../lib/encoding";
import { randomString, type Random } from "../lib/random";
import type { OrderItemRow, OrderRow } from "./repository";
import type { Status } from "./state";
import type { PublicShipping } from "../shipping/view";

const BEIJING_OFFSET_MS = 8 * 3600_000;

/** `yyyy-MM-ddTHH:mm:ss+08:00`, seconds precision (WECHATPAY.md D.2). */
export function formatTimeExpire(ms: number): string {
  const beijing = new Date(Math.floor(ms / 1000) * 1000 + BEIJING_OFFSET_MS);
  return `${beijing.toISOString().slice(0, 19)}+08:00`;
}

/**
 * Our own order number: "WX" + the Beijing date (yyyymmdd) + 16 random [0-9A-Za-z] = 26
 * characters, inside WeChat's 6–32 of [0-9A-Za-z_-|*] (D.1). Uniqueness is also enforced by
 * the orders.out_trade_no UNIQUE index.
 */
export function newOutTradeNo(random: Random, now: number): string {
  const day = new Date(now + BEIJING_OFFSET_MS).toISOString().slice(0, 10).replaceAll("-", "");
  return `WX${day}${randomString(random, 16)}`;
}

export const OUT_TRADE_NO_PATTERN = /^[0-9A-Za-z_-]{6,32}$/;

/** WeChat's limit on `description`, in characters. */
export const DESCRIPTION_MAX_CHARS = 127;

/**
 * "Pour-over coffee x2, Longjing green tea": item names (with quantities above one), cut to
 * 127 characters — counted as code points, never splitting a surrogate pair — with an ellipsis.
 */
export function buildDescription(lines: { name: string; quantity: number }[]): string {
  const full = lines.map((l) => (l.quantity > 1 ? `${l.name} x${l.quantity}` : l.name)).join(", ");
  const chars = Array.from(full);
  if (chars.length <= DESCRIPTION_MAX_CHARS) return full;
  return `${chars.slice(0, DESCRIPTION_MAX_CHARS - 1).join("").trimEnd()}…`;
}

/** SHA-256 of the canonical request body (fixed key order, no whitespace). */
export function requestHash(items: { productId: string; quantity: number }[]): Promise<string> {
  const canonical = JSON.stringify({ items: items.map((i) => ({ productId: i.productId, quantity: i.quantity })) });
  return sha256Hex(canonical);
}

/** Opaque list cursor: base64url("createdAt.id") of the last order on the page. */
export function encodeCursor(c: { createdAt: number; id: string }): string {
  return toBase64Url(utf8(`${c.createdAt}.${c.id}`));
}

export function decodeCursor(s: string): { createdAt: number; id: string } | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(s)) return null;
  const bytes = fromBase64Url(s);
  if (!bytes) return null;
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    return null;
  }
  const m = /^(\d{1,16})\.([A-Za-z0-9_]{1,64})$/.exec(text);
  if (!m?.[1] || !m[2]) return null;
  const createdAt = Number(m[1]);
  return Number.isSafeInteger(createdAt) ? { createdAt, id: m[2] } : null;
}

/** The public `order` object (SPEC §3). Times RFC 3339 UTC, null where absent. */
export interface OrderView {
  id: string;
  outTradeNo: string;
  status: Status;
  amount: number;
  currency: string;
  description: string;
  items: { productId: string; name: string; quantity: number; unitPrice: number }[];
  refundedAmount: number;
  transactionId: string | null;
  createdAt: string;
  paidAt: string | null;
  expiresAt: string;
  /** `GET /v1/orders/:id` only (SPEC §9): null while the order is not paid. */
  shipping?: PublicShipping | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function toOrderView(o: OrderRow, items: OrderItemRow[]): OrderView {
  return {
    id: o.id,
    outTradeNo: o.outTradeNo,
    status: o.status,
    amount: o.amount,
    currency: o.currency,
    description: o.description,
    items: items.map((i) => ({ productId: i.productId, name: i.name, quantity: i.quantity, unitPrice: i.unitPrice })),
    refundedAmount: o.refundedAmount,
    transactionId: o.transactionId ?? null,
    createdAt: iso(o.createdAt),
    paidAt: o.paidAt === null || o.paidAt === undefined ? null : iso(o.paidAt),
    expiresAt: iso(o.expiresAt),
  };
}

import type { Order, OrderStatus } from "../api/types";

/** Integer fen → "¥18.00". */
export function yuan(fen: number): string {
  return `¥${(fen / 100).toFixed(2)}`;
}

export const STATUS_TEXT: Record<OrderStatus, string> = {
  CREATED: "Awaiting payment",
  PAYING: "Awaiting payment",
  PAID: "Paid",
  PARTIALLY_REFUNDED: "Partially refunded",
  REFUNDED: "Refunded",
  CLOSED: "Cancelled",
};

type ShippingStatus = NonNullable<Order["shipping"]>["status"];
type LogisticsType = NonNullable<NonNullable<Order["shipping"]>["logisticsType"]>;

/** Shipping states (SPEC §9), Chinese first. */
export const SHIPPING_TEXT: Record<ShippingStatus, string> = {
  NOT_SHIPPED: "待发货 Not shipped yet",
  UPLOADING: "发货中 Shipping",
  SHIPPED: "已发货 Shipped",
  RECEIVED: "已收货 Received",
  SETTLED: "已完成 Completed",
  FAILED: "发货处理中 Being handled",
};

export const LOGISTICS_TEXT: Record<LogisticsType, string> = {
  express: "快递 Courier",
  same_city: "同城配送 Same-city delivery",
  virtual: "虚拟商品 Digital goods",
  pickup: "到店自提 Pick-up",
};

/** "2026-05-01T08:00:00.000Z" → "2026-05-01 16:00" in the phone's time zone. */
export function localTime(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function errorText(e: unknown): string {
  if (e && typeof e === "object" && "message" in e && typeof (e as { message: unknown }).message === "string") {
    return (e as { message: string }).message;
  }
  return String(e);
}

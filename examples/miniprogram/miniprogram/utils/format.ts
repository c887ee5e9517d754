import type { OrderStatus } from "../api/types";

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

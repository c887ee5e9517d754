/**
 * @module reconcile/schedule — when the reconciler looks at things again, and which day's trade
 * bill is due. Pure functions of "now" (ms) and counters; no I/O.
 */

const MINUTE = 60_000;

/**
 * PAYING orders: first query 60 s after prepay (set by the orders module), then back off
 * 2, 5, 15, 30 min (the last repeats) until expiry (WECHATPAY.md J.2: query within a minute,
 * keep querying until the business deadline).
 */
export const PAYING_BACKOFF_MS = [2 * MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE] as const;

/** Next check after the `queries`-th query (1-based) answered "not paid yet", capped at expiry. */
export function nextPayingCheck(now: number, queries: number, expiresAt: number): number {
  const i = Math.min(Math.max(queries, 1), PAYING_BACKOFF_MS.length) - 1;
  return Math.min(now + (PAYING_BACKOFF_MS[i] ?? 30 * MINUTE), expiresAt);
}

/**
 * Refunds in flight: wallet refunds settle within minutes, bank cards in 1–3 working days
 * (H.2), so the cadence slows with age: every minute for 5 min, every 5 min for an hour,
 * every 15 min for a day, then hourly.
 */
export function nextRefundCheck(now: number, createdAt: number): number {
  const age = now - createdAt;
  if (age < 5 * MINUTE) return now + MINUTE;
  if (age < 60 * MINUTE) return now + 5 * MINUTE;
  if (age < 24 * 60 * MINUTE) return now + 15 * MINUTE;
  return now + 60 * MINUTE;
}

/** After an item failed (timeout, 5xx, D1 hiccup): try it again in two minutes. */
export const RETRY_AFTER_FAILURE_MS = 2 * MINUTE;

export const SHANGHAI_OFFSET_MS = 8 * 3600_000;
export const DAY_MS = 86_400_000;
/** WeChat publishes day D's bill after ~10:00 on D+1 (I.2); we start at 10:30 Asia/Shanghai. */
export const BILL_READY_AFTER_MS = 10.5 * 3600_000;

/** The Asia/Shanghai calendar date (YYYY-MM-DD) of an instant. */
export function shanghaiDate(ms: number): string {
  return new Date(ms + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** [start, end) of the Asia/Shanghai day `YYYY-MM-DD`, as epoch ms; null for a non-date. */
export function shanghaiDayBounds(date: string): { start: number; end: number } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (new Date(utc).toISOString().slice(0, 10) !== date) return null;
  const start = utc - SHANGHAI_OFFSET_MS;
  return { start, end: start + DAY_MS };
}

/**
 * The bill date whose check is due at `now`: yesterday (Asia/Shanghai) once it is 10:30 there,
 * else null (today's first runs wait for the bill). The caller compares it with the last date
 * checked (kv), so each date is checked once, by the first run after 10:30.
 */
export function dueBillDate(now: number): string | null {
  const local = now + SHANGHAI_OFFSET_MS;
  const msIntoDay = ((local % DAY_MS) + DAY_MS) % DAY_MS;
  return msIntoDay >= BILL_READY_AFTER_MS ? shanghaiDate(now - DAY_MS) : null;
}

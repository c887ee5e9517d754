/**
 * @module lib/ratelimit — fixed windows (one minute unless said otherwise) counted in D1, that
 * cost nothing once they refuse.
 *
 * Why D1 and not Cloudflare's rate-limiting binding: the limits are configuration
 * (`LOGIN_RATE_LIMIT`, `ORDER_RATE_LIMIT`, `0` = off) and the binding's limit is a literal in
 * wrangler.toml; D1's single-statement upsert is also exact under concurrency, and behaves the
 * same under `wrangler dev`, in tests and in production.
 *
 * Check and increment are ONE statement, `INSERT … ON CONFLICT DO UPDATE SET count = count + 1
 * WHERE count < limit RETURNING count`: a request within the limit writes its hit; a refused one
 * matches no row, returns nothing and writes nothing — so a loop of refused requests does not
 * become a stream of writes on D1's single writer, queued ahead of orders and notifications.
 * A row's `window` is the start of its window in unix seconds, whatever the window's length,
 * so one cleanup rule fits every limit. Old windows are deleted by the cron job in bounded
 * batches (`deleteOldWindows`).
 */
import type { Clock } from "./clock";
import { AppError } from "../errors";

export const WINDOW_MS = 60_000;

const TAKE =
  "INSERT INTO rate_limits (key, window, count) VALUES (?1, ?2, 1) " +
  "ON CONFLICT (key, window) DO UPDATE SET count = count + 1 WHERE count < ?3 RETURNING count";
const PEEK = "SELECT count FROM rate_limits WHERE key = ?1 AND window = ?2";

/** Start of the window holding `now`, in unix seconds. */
const windowStart = (now: number, windowMs: number) => (Math.floor(now / windowMs) * windowMs) / 1000;
/** Seconds until the current window ends (what Retry-After says). */
export const secondsLeft = (now: number, windowMs = WINDOW_MS): number =>
  Math.max(1, Math.ceil(((Math.floor(now / windowMs) + 1) * windowMs - now) / 1000));

/** Counts one hit on `key` if it is under `limit` in this window; false (nothing written) if not. */
export async function takeHit(db: D1Database, clock: Clock, key: string, limit: number, windowMs = WINDOW_MS): Promise<boolean> {
  const row = await db.prepare(TAKE).bind(key, windowStart(clock.now(), windowMs), limit).first<{ count: number }>();
  return row !== null;
}

/** True when `key` has already used `limit` hits this window (a read; writes nothing). */
export async function isExhausted(db: D1Database, clock: Clock, key: string, limit: number, windowMs = WINDOW_MS): Promise<boolean> {
  const row = await db.prepare(PEEK).bind(key, windowStart(clock.now(), windowMs)).first<{ count: number }>();
  return (row?.count ?? 0) >= limit;
}

export const rateLimited = (what: string, now: number): AppError => {
  const retryAfter = secondsLeft(now);
  return new AppError("rate_limited", `too many ${what}; retry in ${retryAfter} s`, { retryAfter });
};

/** Counts one hit on `key`; throws `429 rate_limited` (with Retry-After) past `limit` per minute. */
export async function enforceRateLimit(
  db: D1Database,
  clock: Clock,
  key: string,
  limit: number,
  what: string,
): Promise<void> {
  if (limit <= 0) return;
  if (!(await takeHit(db, clock, key, limit))) throw rateLimited(what, clock.now());
}

/** Rows deleted per statement, and statements per cron run: bounded work, whatever piled up. */
export const CLEANUP_BATCH = 1000;
export const CLEANUP_MAX_BATCHES = 5;

/**
 * Deletes windows that ended more than a minute ago, CLEANUP_BATCH rows at a time (by rowid,
 * found on the index rate_limits_window), at most CLEANUP_MAX_BATCHES times. Returns rows deleted.
 */
export async function deleteOldWindows(db: D1Database, now: number): Promise<number> {
  const before = windowStart(now, WINDOW_MS) - 60;
  const stmt = db
    .prepare("DELETE FROM rate_limits WHERE rowid IN (SELECT rowid FROM rate_limits WHERE window < ?1 LIMIT ?2)")
    .bind(before, CLEANUP_BATCH);
  let deleted = 0;
  for (let i = 0; i < CLEANUP_MAX_BATCHES; i++) {
    const n = (await stmt.run()).meta.changes ?? 0;
    deleted += n;
    if (n < CLEANUP_BATCH) break;
  }
  return deleted;
}

/**
 * @module lib/ratelimit — fixed one-minute windows counted in D1.
 *
 * Why D1 and not Cloudflare's rate-limiting binding: the limits are configuration
 * (`LOGIN_RATE_LIMIT`, `ORDER_RATE_LIMIT`, `0` = off) and the binding's limit is a literal in
 * wrangler.toml; D1's single-statement upsert is also exact under concurrency, and behaves the
 * same under `wrangler dev`, in tests and in production. Cost: one D1 write per limited request.
 * Old windows are deleted by the cron job.
 */
import type { Clock } from "./clock";
import { AppError } from "../errors";

const WINDOW_MS = 60_000;

/** Counts one hit on `key`; throws `429 rate_limited` (with Retry-After) past `limit` per minute. */
export async function enforceRateLimit(
  db: D1Database,
  clock: Clock,
  key: string,
  limit: number,
  what: string,
): Promise<void> {
  if (limit <= 0) return;
  const now = clock.now();
  const window = Math.floor(now / WINDOW_MS);
  const row = await db
    .prepare(
      "INSERT INTO rate_limits (key, window, count) VALUES (?1, ?2, 1) " +
        "ON CONFLICT (key, window) DO UPDATE SET count = count + 1 RETURNING count",
    )
    .bind(key, window)
    .first<{ count: number }>();
  if ((row?.count ?? 0) > limit) {
    const retryAfter = Math.ceil(((window + 1) * WINDOW_MS - now) / 1000);
    throw new AppError("rate_limited", `too many ${what}; retry in ${retryAfter} s`, { retryAfter });
  }
}

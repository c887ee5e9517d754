/**
 * @module admin/throttle — failed admin authentications, limited per client address (SPEC §11):
 * past ADMIN_FAILURE_LIMIT failures in a one-minute window the address gets `429 rate_limited`
 * with `Retry-After`, even with the right token, until the window ends. Only failures are
 * counted (one D1 upsert each); a refused request writes nothing. One throttle for every way in
 * (console sign-in, and the bearer check when it is wired to it). IPv6 clients are counted per
 * /64 (one subscriber usually holds the whole /64).
 */
import type { Context } from "hono";
import type { AppEnv } from "../context";
import { AppError } from "../errors";

export const ADMIN_FAILURE_LIMIT = 20;
const WINDOW_MS = 60_000;

/** The address failures are counted under: `CF-Connecting-IP`, IPv6 cut to its /64. */
export function clientAddress(c: Context<AppEnv>): string {
  const ip = (c.req.header("cf-connecting-ip") ?? "").trim();
  if (!ip) return "unknown";
  if (!ip.includes(":")) return ip;
  const groups = expandIpv6(ip);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : ip;
}

function expandIpv6(ip: string): string[] | null {
  const [head, tail, ...rest] = ip.toLowerCase().split("::");
  if (rest.length > 0 || head === undefined) return null;
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const all = [...h, ...Array<string>(Math.max(0, fill)).fill("0"), ...t];
  return all.length === 8 && all.every((g) => /^[0-9a-f]{1,4}$/.test(g)) ? all.map((g) => g.replace(/^0+(?=.)/, "")) : null;
}

const keyOf = (address: string) => `admin-auth:${address}`;

/** Throws 429 when `address` is past the limit in the current window (reads only). */
export async function assertAdminNotThrottled(c: Context<AppEnv>, address: string): Promise<void> {
  const now = c.var.deps.clock.now();
  const window = Math.floor(now / WINDOW_MS);
  const row = await c.env.DB.prepare("SELECT count FROM rate_limits WHERE key = ?1 AND window = ?2")
    .bind(keyOf(address), window)
    .first<{ count: number }>();
  if ((row?.count ?? 0) >= ADMIN_FAILURE_LIMIT) {
    const retryAfter = Math.ceil(((window + 1) * WINDOW_MS - now) / 1000);
    throw new AppError("rate_limited", `too many failed admin sign-ins from this address; retry in ${retryAfter} s`, { retryAfter });
  }
}

/** Counts one failed authentication of `address` and logs it at warn (the address, never the token). */
export async function recordAdminFailure(c: Context<AppEnv>, address: string, via: "console" | "bearer"): Promise<void> {
  const window = Math.floor(c.var.deps.clock.now() / WINDOW_MS);
  await c.env.DB.prepare(
    "INSERT INTO rate_limits (key, window, count) VALUES (?1, ?2, 1) ON CONFLICT (key, window) DO UPDATE SET count = count + 1",
  )
    .bind(keyOf(address), window)
    .run();
  c.var.log.warn("admin authentication failed", { address, via });
}

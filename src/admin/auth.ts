/**
 * @module admin/auth — the admin credential check (SPEC §3, §11): `Authorization: Bearer
 * <ADMIN_TOKEN>` for `/admin/*`, and `checkAdminCredential` — THE function the bearer middleware
 * and the console's sign-in form both call, so they share one failure throttle.
 *
 * With no Authorization header, the console's session cookie (SPEC §10) is accepted instead; a
 * cookie-authenticated state change must also pass the forgery checks (console/forgery.ts).
 *
 * The presented token is compared with `timingSafeEqual` (time depends only on the lengths),
 * so the answer time does not reveal how much of a guess was right. Missing, malformed or
 * wrong → 401 `unauthorized`, the same message for all three, and a `warn` line with the
 * address. Past ADMIN_FAILURE_LIMIT failures from one address (IPv6: one /64) in a minute, that
 * address gets 429 with Retry-After on admin routes — checked *before* the comparison, so a
 * throttled guesser learns nothing, not even whether a guess was right. Other addresses are
 * unaffected. A refused request writes nothing (lib/ratelimit.ts).
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { rateLimitAddress } from "../lib/address";
import { timingSafeEqual } from "../lib/encoding";
import { isExhausted, rateLimited, takeHit } from "../lib/ratelimit";
import { assertNotForged } from "../console/forgery";
import { consoleSessionOf } from "../console/session";

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/** Failed admin authentications per address per minute before 429. */
export const ADMIN_FAILURE_LIMIT = 20;

/** The comparison used (an object so tests can observe the call; never replace it in src). */
export const tokenCompare = { equal: timingSafeEqual };

/** The bearer token of an Authorization header, or null when missing or malformed. */
export function bearerToken(header: string | undefined): string | null {
  const m = header === undefined ? null : BEARER.exec(header.trim());
  return m?.[1] ?? null;
}

/** True when the Authorization header carries exactly the admin token. */
export function isAdminAuthorized(header: string | undefined, adminToken: string): boolean {
  const presented = bearerToken(header);
  // Compare even when malformed, against a dummy, so the failure path costs the same.
  const equal = tokenCompare.equal(presented ?? "", adminToken);
  return presented !== null && equal;
}

/**
 * Throws 429 when this request's address is throttled, 401 when `presented` is not the admin
 * token (counting the failure), and returns when it is. `presented` is null when the request
 * carried no credential at all (counted as a failure too: probing is guessing).
 */
export async function checkAdminCredential(c: Context<AppEnv>, presented: string | null): Promise<void> {
  const { deps, config, log } = c.var;
  const address = rateLimitAddress(c.req.header("cf-connecting-ip"));
  const key = `admin:fail:${address}`;
  if (await isExhausted(c.env.DB, deps.clock, key, ADMIN_FAILURE_LIMIT)) {
    throw rateLimited("failed admin authentications from this address", deps.clock.now());
  }
  const equal = tokenCompare.equal(presented ?? "", config.adminToken);
  if (presented !== null && equal) return;
  // The hit is not written once the window is full (a concurrent burst may reach the limit here).
  const counted = await takeHit(c.env.DB, deps.clock, key, ADMIN_FAILURE_LIMIT);
  log.warn("admin authentication failed", { address, path: c.req.path, credential: presented === null ? "missing" : "wrong" });
  if (!counted) throw rateLimited("failed admin authentications from this address", deps.clock.now());
  throw new AppError("unauthorized", "admin endpoints need Authorization: Bearer <ADMIN_TOKEN>");
}

export const adminAuth = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  if (header === undefined) {
    const session = await consoleSessionOf(c);
    if (session) {
      await assertNotForged(c, session);
      return next();
    }
  }
  await checkAdminCredential(c, bearerToken(header));
  await next();
});

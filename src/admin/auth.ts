/**
 * @module admin/auth — `Authorization: Bearer <ADMIN_TOKEN>` for `/admin/*` (SPEC §3).
 *
 * The presented token is compared with `timingSafeEqual` (time depends only on the lengths),
 * so the answer time does not reveal how much of a guess was right. Missing, malformed or
 * wrong → 401 `unauthorized`, the same message for all three.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { timingSafeEqual } from "../lib/encoding";

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/** The comparison used (an object so tests can observe the call; never replace it in src). */
export const tokenCompare = { equal: timingSafeEqual };

/** True when the Authorization header carries exactly the admin token. */
export function isAdminAuthorized(header: string | undefined, adminToken: string): boolean {
  const m = header === undefined ? null : BEARER.exec(header.trim());
  // Compare even when malformed, against a dummy, so the failure path costs the same.
  const presented = m?.[1] ?? "";
  const equal = tokenCompare.equal(presented, adminToken);
  return m !== null && equal;
}

export const adminAuth = createMiddleware<AppEnv>(async (c, next) => {
  if (!isAdminAuthorized(c.req.header("authorization"), c.var.config.adminToken)) {
    throw new AppError("unauthorized", "admin endpoints need Authorization: Bearer <ADMIN_TOKEN>");
  }
  await next();
});

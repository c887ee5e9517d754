/**
 * @module console/forgery — cross-site request forgery checks for requests authenticated by the
 * console cookie (SPEC §10): the request must come from our own origin (`Origin`, or `Referer`
 * when a browser leaves Origin out) *and* carry the session's CSRF token (`X-CSRF-Token` header
 * or the `_csrf` form field). Either missing or wrong → 403 `forbidden`, before anything is done.
 * Bearer-token requests need neither: a browser never attaches that header on its own.
 */
import type { Context } from "hono";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { timingSafeEqual } from "../lib/encoding";
import type { ConsoleSession } from "./session";

export const CSRF_FIELD = "_csrf";
export const CSRF_HEADER = "x-csrf-token";
export const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function originOf(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

export function isSameOrigin(c: Context<AppEnv>): boolean {
  const own = new URL(c.req.url).origin;
  const origin = c.req.header("origin");
  if (origin !== undefined) return origin === own;
  return originOf(c.req.header("referer")) === own;
}

async function presentedToken(c: Context<AppEnv>): Promise<string> {
  const header = c.req.header(CSRF_HEADER);
  if (header !== undefined) return header;
  const type = c.req.header("content-type") ?? "";
  if (type.startsWith("application/x-www-form-urlencoded") || type.startsWith("multipart/form-data")) {
    const v = (await c.req.parseBody())[CSRF_FIELD];
    return typeof v === "string" ? v : "";
  }
  return "";
}

/** Throws 403 unless a state-changing, cookie-authenticated request passes both checks. */
export async function assertNotForged(c: Context<AppEnv>, session: ConsoleSession): Promise<void> {
  if (SAFE_METHODS.has(c.req.method)) return;
  if (!isSameOrigin(c)) throw new AppError("forbidden", "cross-origin request refused: the Origin is not this console's");
  const token = await presentedToken(c);
  if (!timingSafeEqual(token, session.csrf)) throw new AppError("forbidden", "missing or wrong CSRF token: reload the page and try again");
}

/**
 * @module console/signin — `POST /admin/session` (sign in with the admin token) and
 * `POST /admin/signout`. The token goes through `checkAdminCredential`, the same check (and the
 * same per-address failure throttle) as the bearer token: past the limit the address is refused
 * with 429 before the token is even compared.
 */
import type { Context } from "hono";
import { checkAdminCredential } from "../admin/auth";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { assertNotForged, isSameOrigin } from "./forgery";
import { consoleSessionOf, issueSession, SESSION_TTL_MS, setSessionCookie } from "./session";

export const HOME = "/admin/ui/overview";
export const SIGN_IN_PAGE = "/admin/ui/signin";

/** Signs in; throws 403 (other origin), 429 (throttled) or 401 (wrong token: the caller re-renders the form). */
export async function signIn(c: Context<AppEnv>): Promise<Response> {
  // Login CSRF: another site must not be able to sign a browser in (to an account it chose).
  if (!isSameOrigin(c)) throw new AppError("forbidden", "cross-origin sign-in refused");
  const form = await c.req.parseBody();
  await checkAdminCredential(c, typeof form.token === "string" && form.token !== "" ? form.token : null);
  const { value } = await issueSession(c.var.config, c.var.deps.random, c.var.deps.clock.now());
  setSessionCookie(c, value, SESSION_TTL_MS / 1000);
  c.var.log.info("console sign-in", { address: c.req.header("cf-connecting-ip") ?? "unknown" });
  return c.redirect(HOME, 303);
}

export async function signOut(c: Context<AppEnv>): Promise<Response> {
  const session = await consoleSessionOf(c);
  if (session) {
    await assertNotForged(c, session);
    setSessionCookie(c, "", 0);
  }
  return c.redirect(SIGN_IN_PAGE, 303);
}

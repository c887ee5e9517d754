/**
 * @module console/session — the console's sign-in session (SPEC §10): a signed, expiring cookie
 * and the CSRF token bound to it.
 *
 * Cookie value `<sid>.<expiresAtMs>.<HMAC-SHA256>`; stateless, so it is checked with one HMAC
 * and no D1 read. The HMAC key is derived (HKDF) from SESSION_SECRET *and* ADMIN_TOKEN, so
 * rotating the admin token ends every console session at once. The CSRF token is
 * HMAC(key, "csrf." + sid): bound to the session, unguessable without the key, and the same for
 * every form of one session (no server state).
 */
import { getCookie, setCookie } from "hono/cookie";
import type { Context } from "hono";
import type { Config } from "../config";
import type { AppEnv } from "../context";
import { fromBase64Url, timingSafeEqual, toBase64Url, utf8 } from "../lib/encoding";
import { memoAsync } from "../lib/memo";
import { randomString, type Random } from "../lib/random";

export const SESSION_COOKIE = "wxe_console";
export const SESSION_TTL_MS = 8 * 3600_000;
/** The console's paths: the cookie never travels to /v1 or anywhere else. */
export const COOKIE_PATH = "/admin";

export interface ConsoleSession {
  sid: string;
  expiresAt: number;
  csrf: string;
}

const keys = new Map<string, Promise<CryptoKey>>();

function sessionKey(config: Pick<Config, "sessionSecret" | "adminToken">): Promise<CryptoKey> {
  const ikmText = `${config.sessionSecret}\u0000${config.adminToken}`;
  return memoAsync(keys, ikmText, async () => {
    const ikm = await crypto.subtle.importKey("raw", utf8(ikmText), "HKDF", false, ["deriveKey"]);
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: utf8("wxpay-edge/v1"), info: utf8("console-session") },
      ikm,
      { name: "HMAC", hash: "SHA-256", length: 256 },
      false,
      ["sign"],
    );
  });
}

async function mac(key: CryptoKey, text: string): Promise<string> {
  return toBase64Url(await crypto.subtle.sign("HMAC", key, utf8(text)));
}

async function build(key: CryptoKey, sid: string, expiresAt: number): Promise<{ value: string; session: ConsoleSession }> {
  const [sig, csrf] = await Promise.all([mac(key, `session.${sid}.${expiresAt}`), mac(key, `csrf.${sid}`)]);
  return { value: `${sid}.${expiresAt}.${sig}`, session: { sid, expiresAt, csrf } };
}

export async function issueSession(config: Config, random: Random, now: number): Promise<{ value: string; session: ConsoleSession }> {
  return build(await sessionKey(config), randomString(random, 24), now + SESSION_TTL_MS);
}

/** The session a cookie value stands for, or null (malformed, forged, expired, or older than the keys). */
export async function verifySession(config: Config, value: string | undefined, now: number): Promise<ConsoleSession | null> {
  const m = value === undefined ? null : /^([0-9A-Za-z]{24})\.(\d{13,15})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m || !fromBase64Url(m[3]!)) return null;
  const expiresAt = Number(m[2]);
  if (expiresAt <= now || expiresAt > now + SESSION_TTL_MS) return null;
  const expected = await build(await sessionKey(config), m[1]!, expiresAt);
  return timingSafeEqual(expected.value, value!) ? expected.session : null;
}

/** `Secure` everywhere except plain-http development on this machine. */
export function isLocalhost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

export function setSessionCookie(c: Context<AppEnv>, value: string, maxAgeSeconds: number): void {
  setCookie(c, SESSION_COOKIE, value, {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: "Strict",
    secure: !isLocalhost(c.req.url),
    maxAge: maxAgeSeconds,
  });
}

/** The request's console session (memoised on the context: pages and the API guard share it). */
export async function consoleSessionOf(c: Context<AppEnv>): Promise<ConsoleSession | null> {
  const cached = c.get("consoleSession");
  if (cached !== undefined) return cached;
  const s = await verifySession(c.var.config, getCookie(c, SESSION_COOKIE), c.var.deps.clock.now());
  c.set("consoleSession", s);
  return s;
}

/**
 * @module test/simulator/tokens — `POST /cgi-bin/stable_token` (WECHATPAY.md M.1) and the token
 * check every other server API runs (M.4). Normal mode returns the current token while more
 * than 5 minutes of it remain, the next one inside those 5 minutes (the old one still valid
 * until it expires); force mode revokes the current token at once. Controls: expire or
 * invalidate every token mid-run, change the lifetime, count the calls.
 */
import type { Hono } from "hono";
import { randomString } from "../../src/lib/random";
import type { SimEnv } from "./auth";
import type { SimContext } from "./context";
import { jsonBody, wxErr, wxJson, type SimAccessToken } from "./wxstate";

const EARLY_RENEWAL_MS = 300_000;
const TOKEN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";

function issue(sim: SimContext): SimAccessToken {
  const now = sim.clock.now();
  const t = { token: `96_${randomString(sim.random, 130, TOKEN_ALPHABET)}`, issuedAt: now, expiresAt: now + sim.state.wx.tokenLifetimeS * 1000, revoked: false };
  sim.state.wx.tokens.push(t);
  sim.state.wx.currentToken = t.token;
  return t;
}

const answer = (sim: SimContext, t: SimAccessToken) =>
  wxJson({ access_token: t.token, expires_in: Math.max(0, Math.floor((t.expiresAt - sim.clock.now()) / 1000)) });

/** null when `token` may call a server API, else WeChat's answer (41001 / 40014 / 40001 / 42001). */
export function checkAccessToken(sim: SimContext, req: Request): Response | null {
  const token = new URL(req.url).searchParams.get("access_token");
  if (!token) return wxErr(41001, "access_token missing");
  const t = sim.state.wx.tokens.find((x) => x.token === token);
  if (!t) return /^96_[0-9A-Za-z_-]{130}$/.test(token) ? wxErr(40001, "invalid credential, access_token is invalid or not latest,") : wxErr(40014, "invalid access_token");
  if (t.revoked) return wxErr(40001, "invalid credential, access_token is invalid or not latest,");
  if (sim.clock.now() >= t.expiresAt) return wxErr(42001, "access_token expired");
  return null;
}

export function registerTokens(app: Hono<SimEnv>, sim: SimContext): void {
  app.post("/cgi-bin/stable_token", async (c) => {
    const wx = sim.state.wx;
    wx.stableTokenCalls++;
    const b = await jsonBody(c.req.raw);
    if (!b) return wxErr(47001, "data format error");
    if (b.grant_type !== "client_credential") return wxErr(40002, "invalid grant_type");
    if (typeof b.appid !== "string" || b.appid === "") return wxErr(41002, "appid missing");
    if (b.appid !== sim.opts.appid) return wxErr(40013, "invalid appid");
    if (b.secret !== sim.opts.appsecret) return wxErr(40125, "invalid appsecret");
    if (b.force_refresh !== undefined && typeof b.force_refresh !== "boolean") return wxErr(47001, "data format error");
    const now = sim.clock.now();
    const cur = wx.tokens.find((t) => t.token === wx.currentToken);
    if (b.force_refresh === true) {
      wx.forceRefreshCalls++;
      if (cur) cur.revoked = true;
      return answer(sim, issue(sim));
    }
    if (cur && !cur.revoked && now < cur.expiresAt - EARLY_RENEWAL_MS) return answer(sim, cur);
    // Inside the last 5 minutes (the old token keeps working until it expires), expired or revoked.
    return answer(sim, issue(sim));
  });
}

/** Every issued token now answers 42001 (expired), as if their lifetime ran out. */
export function expireAccessTokens(sim: SimContext): void {
  const now = sim.clock.now();
  for (const t of sim.state.wx.tokens) t.expiresAt = Math.min(t.expiresAt, now);
}

/** Every issued token now answers 40001, as if someone called force_refresh. */
export function invalidateAccessTokens(sim: SimContext): void {
  for (const t of sim.state.wx.tokens) t.revoked = true;
}

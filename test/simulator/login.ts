/**
 * @module test/simulator/login — `GET /sns/jscode2session` (WECHATPAY.md A.2) with codes minted by
 * the simulator: single use, valid 5 minutes on the injected clock. Forced errcodes (-1, 45011,
 * 40226), slow answers, 5xx and non-JSON come from faults (see faults.ts). Every wx.login (a
 * minted code) issues the user a new session_key, which supersedes the previous one at once
 * (WECHATPAY.md Q.1): checksession and open data (session.ts) know only the latest.
 */
import type { Hono } from "hono";
import { toBase64 } from "../../src/lib/encoding";
import type { SimEnv } from "./auth";
import type { SimContext } from "./context";

export const CODE_TTL_MS = 5 * 60_000;

export interface MintedCode {
  code: string;
  openid: string;
  unionid?: string;
}

/** What `wx.login()` would give the mini program: a fresh code for a (new or given) user. */
export function mintCode(sim: SimContext, user: { openid?: string; unionid?: string } = {}): MintedCode {
  const openid = user.openid ?? sim.openid();
  const unionid = user.unionid ?? sim.state.users.get(openid);
  sim.state.users.set(openid, unionid);
  const code = sim.loginCode();
  // A new session_key for every wx.login: 16 random bytes, base64 (A.2, A.3).
  const sessionKey = toBase64(sim.random.bytes(16));
  sim.state.sessionKeys.set(openid, sessionKey);
  sim.state.codes.set(code, { code, openid, unionid, sessionKey, createdAt: sim.clock.now() });
  return unionid ? { code, openid, unionid } : { code, openid };
}

const json = (body: unknown) =>
  new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json; encoding=utf-8" } });

const err = (errcode: number, errmsg: string) => json({ errcode, errmsg: `${errmsg}, rid: sim` });

export function registerLogin(app: Hono<SimEnv>, sim: SimContext): void {
  app.get("/sns/jscode2session", (c) => {
    const q = new URL(c.req.url).searchParams;
    if (q.get("appid") !== sim.opts.appid) return err(40013, "invalid appid");
    if (q.get("secret") !== sim.opts.appsecret) return err(40125, "invalid appsecret");
    if (q.get("grant_type") !== "authorization_code") return err(40002, "invalid grant_type");
    const jsCode = q.get("js_code");
    if (!jsCode) return err(41008, "missing code");
    const entry = sim.state.codes.get(jsCode);
    if (!entry || sim.clock.now() - entry.createdAt > CODE_TTL_MS) return err(40029, "invalid code");
    if (entry.usedAt !== undefined) return err(40163, "code been used");
    entry.usedAt = sim.clock.now();
    const body: Record<string, string> = { session_key: entry.sessionKey, openid: entry.openid };
    if (entry.unionid) body.unionid = entry.unionid;
    return json(body);
  });
}

/**
 * @module test/simulator/session — the login-session extras (WECHATPAY.md Q): `GET
 * /wxa/checksession`, which tells whether a signature was made with the user's current
 * session_key, and what `wx.getWeRunData` / `wx.getShareInfo` give a mini program: a JSON object
 * with a watermark, AES-128-CBC-encrypted with the user's current session_key.
 */
import type { Hono } from "hono";
import { timingSafeEqual, toBase64 } from "../../src/lib/encoding";
import type { SimEnv } from "./auth";
import type { SimContext } from "./context";
import { openDataEncrypt, userStateHmac } from "./crypto";
import { checkAccessToken } from "./tokens";
import { wxErr, wxOk } from "./wxstate";

export interface SealedOpenData {
  encryptedData: string;
  iv: string;
}

/**
 * `data` plus `watermark: {timestamp, appid}` (appid: ours unless given), encrypted with the
 * openid's current session_key and a fresh iv. Throws for an openid that never logged in.
 */
export async function sealOpenData(sim: SimContext, o: { openid: string; data: Record<string, unknown>; appid?: string }): Promise<SealedOpenData> {
  const sessionKey = sim.state.sessionKeys.get(o.openid);
  if (!sessionKey) throw new Error(`no session_key for ${o.openid}: mint a login code for this user first`);
  const iv = sim.random.bytes(16);
  const plain = JSON.stringify({ ...o.data, watermark: { timestamp: Math.floor(sim.clock.now() / 1000), appid: o.appid ?? sim.opts.appid } });
  return { encryptedData: await openDataEncrypt(sessionKey, iv, plain), iv: toBase64(iv) };
}

export function registerSession(app: Hono<SimEnv>, sim: SimContext): void {
  app.get("/wxa/checksession", async (c) => {
    const denied = checkAccessToken(sim, c.req.raw);
    if (denied) return denied;
    const q = new URL(c.req.url).searchParams;
    const current = sim.state.sessionKeys.get(q.get("openid") ?? "");
    if (!current) return wxErr(40003, "invalid openid");
    // Lowercase hex only, as the official example: whether WeChat accepts uppercase is unconfirmed.
    const signature = q.get("signature") ?? "";
    if (q.get("sig_method") !== "hmac_sha256" || !timingSafeEqual(signature, await userStateHmac(current, ""))) {
      return wxErr(87009, "invalid signature");
    }
    return wxOk();
  });
}

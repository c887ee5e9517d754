/**
 * @module wechat/server/session — `GET wxa/checksession` (WECHATPAY.md Q.1): is this stored
 * session_key still the user's current one? A user has one valid session_key at a time; a newer
 * wx.login supersedes it. The key itself never leaves the Worker: only its user-state signature
 * over "" travels (in the query, which transport.ts never logs).
 */
import { USER_STATE_SIG_METHOD, userStateSignature } from "../login/user-state";
import type { ServerApi } from "./client";
import { WxErrcodeError } from "./errors";

export const CHECK_SESSION_API = "wxa/checksession";
/** "invalid signature": the session_key is not the user's current valid one (Q.1). */
export const STALE_SESSION_ERRCODE = 87009;
/** 87009 is WeChat's verdict on the key, not a fault: logged at debug. */
const STALE: ReadonlySet<number> = new Set([STALE_SESSION_ERRCODE]);

/**
 * "current" on errcode 0, "stale" on 87009; anything else is thrown (WxErrcodeError or
 * WxUnknownOutcomeError, after the client's one retry on a rejected access token).
 */
export async function checkSessionKey(api: ServerApi, openid: string, sessionKey: string): Promise<"current" | "stale"> {
  const signature = await userStateSignature(sessionKey, "");
  try {
    await api.get(CHECK_SESSION_API, { openid, signature, sig_method: USER_STATE_SIG_METHOD }, STALE);
    return "current";
  } catch (err) {
    if (err instanceof WxErrcodeError && err.errcode === STALE_SESSION_ERRCODE) return "stale";
    throw err;
  }
}

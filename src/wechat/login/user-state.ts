/**
 * @module wechat/login/user-state — the user-state signature (用户登录态签名, WECHATPAY.md Q.1):
 * HMAC-SHA256 keyed with the session_key STRING as UTF-8 — the base64 text itself, not the 16
 * bytes it decodes to — over the request body ("" for `wxa/checksession`), as lowercase hex.
 * The official example (vector `user-state-signature-official`) settles which argument is the key.
 */
import { toHex, utf8 } from "../../lib/encoding";

export const USER_STATE_SIG_METHOD = "hmac_sha256";

export async function userStateSignature(sessionKey: string, body: string): Promise<string> {
  // A fresh key per call: a session_key is per user, so there is nothing worth caching.
  const key = await crypto.subtle.importKey("raw", utf8(sessionKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(await crypto.subtle.sign("HMAC", key, utf8(body)));
}

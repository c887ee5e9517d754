/**
 * @module wechat/push/signature — the sort-and-SHA-1 signatures of message push (WECHATPAY.md O.2,
 * O.4): the parts are sorted as plain code-unit strings (all ASCII, so `Array.prototype.sort()` is
 * exact; note `+` and `/` sort before digits), concatenated without separator, hashed with SHA-1
 * and written as lowercase hex.
 */
import { toHex, utf8 } from "../../lib/encoding";

export async function sortedSha1(parts: readonly string[]): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-1", utf8([...parts].sort().join(""))));
}

/** URL verification (GET) and the plain `signature` query parameter: Token, timestamp, nonce. */
export const urlSignature = (token: string, timestamp: string, nonce: string): Promise<string> => sortedSha1([token, timestamp, nonce]);

/** Safe mode's `msg_signature`: Token, timestamp, nonce and the body's `Encrypt` string value. */
export const msgSignature = (token: string, timestamp: string, nonce: string, encrypt: string): Promise<string> =>
  sortedSha1([token, timestamp, nonce, encrypt]);

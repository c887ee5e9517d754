/**
 * @module wechat/pay/verifier — verification of WeChat-signed messages (API answers and
 * notifications) as a short pipeline of named checks, each with its own typed failure
 * (WECHATPAY.md C): headers → signature type → clock skew → strict base64 → key by serial → RSA.
 *
 * Nothing here throws anything but a `WechatPayError`: a WECHATPAY/SIGNTEST/ probe or any other
 * undecodable signature is a `BadSignature`, never an exception from a decoder (C.4).
 */
import type { Clock } from "../../lib/clock";
import { fromBase64, utf8 } from "../../lib/encoding";
import { BadSignature, MissingHeader, TimestampSkew, UnsupportedSignatureType } from "./errors";

/** C.3: at most 5 minutes either way; 300 s passes, 301 s fails. A constant, not an option. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export const SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048";

const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/**
 * Where a signed message came from, which decides what an unknown serial may cost (C.5):
 * an `answer` to our own call reached us over TLS from WeChat, so its serial is genuine and
 * worth a certificate download at once; a `notification` is anyone's POST until verified, so its
 * unknown serials share one rate-limited refresh.
 */
export type SerialOrigin = "answer" | "notification";

/** Finds the verification key for a `Wechatpay-Serial`; throws `UnknownSerial` when there is none. */
export interface KeyResolver {
  resolve(serial: string, origin?: SerialOrigin): Promise<CryptoKey>;
}

export interface VerifiedHeaders {
  serial: string;
  timestamp: string;
  nonce: string;
}

/** C.1: the four headers every signed message carries. Empty counts as missing. */
export function readSignatureHeaders(headers: Headers): VerifiedHeaders & { signature: string } {
  const get = (name: string): string => {
    const v = headers.get(name);
    if (v === null || v.trim() === "") throw new MissingHeader(name);
    return v.trim();
  };
  const timestamp = get("Wechatpay-Timestamp");
  const nonce = get("Wechatpay-Nonce");
  const signature = get("Wechatpay-Signature");
  const serial = get("Wechatpay-Serial");
  const type = headers.get("Wechatpay-Signature-Type");
  if (type !== null && type.trim() !== SIGNATURE_TYPE) throw new UnsupportedSignatureType(type);
  return { timestamp, nonce, signature, serial };
}

/** C.3: |now − ts| ≤ 300 s, with `now` from the injected clock. */
export function checkTimestamp(timestamp: string, clock: Clock): void {
  if (!/^\d{1,12}$/.test(timestamp)) throw new TimestampSkew("Wechatpay-Timestamp is not Unix seconds");
  const skew = Math.abs(Math.floor(clock.now() / 1000) - Number(timestamp));
  if (skew > MAX_CLOCK_SKEW_SECONDS) {
    throw new TimestampSkew(`Wechatpay-Timestamp is ${skew} s away from our clock (limit ${MAX_CLOCK_SKEW_SECONDS} s): check NTP, or a replay`);
  }
}

/** C.2: `TIMESTAMP\nNONCE\nBODY\n` over the raw body bytes (a 204 gives `TS\nNONCE\n\n`). */
export function buildVerifyMessage(timestamp: string, nonce: string, body: string | Uint8Array): Uint8Array {
  const head = utf8(`${timestamp}\n${nonce}\n`);
  const raw = typeof body === "string" ? utf8(body) : body;
  const out = new Uint8Array(head.length + raw.length + 1);
  out.set(head, 0);
  out.set(raw, head.length);
  out[out.length - 1] = 0x0a;
  return out;
}

/** RSA-SHA256 check; any WebCrypto complaint (wrong length, …) is a plain `false`. */
export async function rsaVerify(key: CryptoKey, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  try {
    return await crypto.subtle.verify(RSA_SHA256, key, signature, message);
  } catch {
    return false;
  }
}

/**
 * Verifies a WeChat-signed message over its raw body. Returns the checked header values;
 * throws MissingHeader, UnsupportedSignatureType, TimestampSkew, BadSignature or (from the
 * resolver) UnknownSerial.
 */
export async function verifySignedMessage(input: {
  headers: Headers;
  body: string | Uint8Array;
  clock: Clock;
  keys: KeyResolver;
  /** Default `notification`: the cautious one. */
  origin?: SerialOrigin;
}): Promise<VerifiedHeaders> {
  const { timestamp, nonce, signature, serial } = readSignatureHeaders(input.headers);
  checkTimestamp(timestamp, input.clock);
  // Decode before looking up the key: a probe must not trigger a certificate refresh.
  const sig = fromBase64(signature);
  if (!sig) throw new BadSignature("Wechatpay-Signature is not base64 (a WECHATPAY/SIGNTEST/ probe?): rejected");
  const key = await input.keys.resolve(serial, input.origin ?? "notification");
  if (!(await rsaVerify(key, sig, buildVerifyMessage(timestamp, nonce, input.body)))) throw new BadSignature();
  return { serial, timestamp, nonce };
}

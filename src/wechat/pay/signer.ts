/**
 * @module wechat/pay/signer — APIv3 request signing: the string to sign, SHA256withRSA with the
 * merchant private key, and the `Authorization` header (WECHATPAY.md B).
 *
 * Pure functions except for the per-isolate key cache: importing a PKCS#8 key costs ~100 µs in
 * workerd, signing ~600 µs, so the CryptoKey is imported once per PEM text and reused.
 */
import { pemToDer, toBase64, utf8 } from "../../lib/encoding";
import { memoAsync } from "../../lib/memo";
import { InvalidKey } from "./errors";

export const AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048";

const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/**
 * B.1: `METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n`. Every line ends in `\n`, the last one
 * too; for GET or a body-less request BODY is empty, so the message ends in `\n\n`.
 * `canonicalUrl` is the path plus `?query` exactly as sent (already percent-encoded).
 */
export function buildSignMessage(
  method: string,
  canonicalUrl: string,
  timestamp: string | number,
  nonce: string,
  body: string,
): string {
  return `${method.toUpperCase()}\n${canonicalUrl}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** Path plus `?query` of a URL as it will be sent (B.1; Java uses rawPath + "?" + rawQuery). */
export function canonicalUrlOf(url: URL): string {
  return url.pathname + url.search;
}

const merchantKeys = new Map<string, Promise<CryptoKey>>();

/**
 * The merchant API private key (apiclient_key.pem, PKCS#8), imported non-extractable for
 * signing only. Cached per isolate by PEM text; a failed import is not cached.
 */
export function importMerchantKey(pem: string): Promise<CryptoKey> {
  return memoAsync(merchantKeys, pem, () => importPkcs8(pem));
}

async function importPkcs8(pem: string): Promise<CryptoKey> {
  const der = pemToDer(pem, "PRIVATE KEY");
  if (!der) throw new InvalidKey("WXPAY_MCH_PRIVATE_KEY: not a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)");
  try {
    return await crypto.subtle.importKey("pkcs8", der, RSA_SHA256, false, ["sign"]);
  } catch (cause) {
    throw new InvalidKey("WXPAY_MCH_PRIVATE_KEY: WebCrypto refused the key (must be an RSA PKCS#8 key)", { cause });
  }
}

/** B.2: SHA256withRSA (RSASSA-PKCS1-v1_5) over the UTF-8 message, standard base64 with padding. */
export async function sign(key: CryptoKey, message: string): Promise<string> {
  return toBase64(await crypto.subtle.sign(RSA_SHA256, key, utf8(message)));
}

export interface AuthorizationParts {
  mchid: string;
  nonce: string;
  timestamp: string | number;
  /** Merchant API certificate serial (not a platform serial, L.9). */
  serialNo: string;
  signature: string;
}

/** B.3: the scheme, one space, then the five `key="value"` pairs in Go's order. */
export function buildAuthorization(p: AuthorizationParts): string {
  return (
    `${AUTH_SCHEME} mchid="${p.mchid}",nonce_str="${p.nonce}",timestamp="${p.timestamp}",` +
    `serial_no="${p.serialNo}",signature="${p.signature}"`
  );
}

/** Signs one request and returns its Authorization header value. */
export async function authorize(opts: {
  key: CryptoKey;
  mchid: string;
  serialNo: string;
  method: string;
  canonicalUrl: string;
  timestamp: string | number;
  nonce: string;
  body: string;
}): Promise<string> {
  const message = buildSignMessage(opts.method, opts.canonicalUrl, opts.timestamp, opts.nonce, opts.body);
  const signature = await sign(opts.key, message);
  return buildAuthorization({ mchid: opts.mchid, nonce: opts.nonce, timestamp: opts.timestamp, serialNo: opts.serialNo, signature });
}

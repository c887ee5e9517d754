/**
 * @module wechat/login/open-data — decrypting a mini program's legacy `encryptedData`
 * (wx.getWeRunData, wx.getShareInfo, …; WECHATPAY.md Q.2): AES-128-CBC, key = base64-decoded
 * session_key (16 bytes), iv = base64-decoded iv (16 bytes), standard 16-byte PKCS#7 — which
 * WebCrypto's native AES-CBC strips itself (unlike message push's 32-byte padding, O.5). The
 * plaintext is a JSON object whose `watermark.appid` must be ours. Pure: no I/O, no logging.
 */
import { fromBase64, fromUtf8 } from "../../lib/encoding";

const BLOCK = 16;

/**
 * Not decryptable with this session_key: a malformed key, iv or ciphertext, a bad padding, or a
 * plaintext that is not a JSON object. With a well-formed iv and ciphertext this mostly means the
 * key is not the one WeChat encrypted with (a newer session_key, Q.1) — or the data was altered.
 */
export class OpenDataUndecryptable extends Error {
  constructor(readonly reason: "session_key" | "iv" | "encrypted_data" | "decrypt" | "not_json") {
    super(`encryptedData could not be decrypted (${reason})`);
    this.name = "OpenDataUndecryptable";
  }
}

/** Decrypted, but `watermark.appid` (or the watermark itself) is missing or another mini program's. */
export class OpenDataWatermarkMismatch extends Error {
  constructor() {
    super("encryptedData: watermark.appid is not this mini program's AppID");
    this.name = "OpenDataWatermarkMismatch";
  }
}

export interface OpenDataInput {
  /** The user's session_key as WeChat sent it (base64 text). */
  sessionKey: string;
  encryptedData: string;
  iv: string;
  /** Our AppID: the watermark must name it. */
  appid: string;
}

/** The decrypted object, watermark included; throws OpenDataUndecryptable or OpenDataWatermarkMismatch. */
export async function decryptOpenData(input: OpenDataInput): Promise<Record<string, unknown>> {
  const key = fromBase64(input.sessionKey);
  if (!key || key.length !== BLOCK) throw new OpenDataUndecryptable("session_key");
  const iv = fromBase64(input.iv);
  if (!iv || iv.length !== BLOCK) throw new OpenDataUndecryptable("iv");
  const ct = fromBase64(input.encryptedData);
  if (!ct || ct.length === 0 || ct.length % BLOCK !== 0) throw new OpenDataUndecryptable("encrypted_data");

  let plain: string;
  try {
    // 16-byte key → AES-128 (WebCrypto picks the variant from the key length; checked above).
    const k = await crypto.subtle.importKey("raw", key, "AES-CBC", false, ["decrypt"]);
    plain = fromUtf8(await crypto.subtle.decrypt({ name: "AES-CBC", iv }, k, ct));
  } catch {
    // A wrong key nearly always ends in a bad padding; the 1-in-256 that does not, in garbage below.
    throw new OpenDataUndecryptable("decrypt");
  }
  let data: unknown;
  try {
    data = JSON.parse(plain);
  } catch {
    throw new OpenDataUndecryptable("not_json");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new OpenDataUndecryptable("not_json");
  const wm = (data as Record<string, unknown>).watermark;
  if (typeof wm !== "object" || wm === null || (wm as Record<string, unknown>).appid !== input.appid) throw new OpenDataWatermarkMismatch();
  return data as Record<string, unknown>;
}

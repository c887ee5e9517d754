/**
 * @module wechat/push/cipher — safe-mode message encryption (WECHATPAY.md O.4, O.5): AES-256-CBC
 * with key = base64decode(EncodingAESKey + "=") (32 bytes) and IV = the key's first 16 bytes;
 * PKCS#7 padding to 32-byte blocks (pad value 1..32); the plaintext ("FullStr") is
 * random(16) ‖ msg_len (4 bytes, big-endian, counting UTF-8 bytes) ‖ msg ‖ appid.
 *
 * WebCrypto's AES-CBC always applies 16-byte PKCS#7: a naive `subtle.decrypt` throws whenever
 * WeChat's pad is above 16 (19 in the official vector) and quietly strips part of it otherwise —
 * about half of real traffic would fail. So decryption appends one block that decrypts to a full
 * 16-byte pad (O.5), gets the raw plaintext back, and checks and strips WeChat's padding itself.
 * CBC is malleable: callers verify `msg_signature` BEFORE calling `decryptPush`.
 */
import { fromBase64, fromUtf8, toBase64, utf8 } from "../../lib/encoding";
import { memoAsync } from "../../lib/memo";
import { PushMalformed } from "./errors";

/** WeChat's block size for the padding; AES's own block is 16. */
export const PAD_BLOCK = 32;
const AES_BLOCK = 16;
const RANDOM_BYTES = 16;
const LENGTH_BYTES = 4;

/** The EncodingAESKey as the mini-program admin shows it: 43 characters of the base64 alphabet. */
export const ENCODING_AES_KEY_RE = /^[A-Za-z0-9+/]{43}$/;

export interface PushKey {
  key: CryptoKey;
  iv: Uint8Array;
}

/**
 * The 32 key bytes. `atob` is deliberately used: the 43rd character may carry non-zero trailing
 * bits (WxJava's test key ends in "G"), which strict base64 decoders reject (O.1).
 */
export function pushKeyBytes(encodingAesKey: string): Uint8Array {
  if (!ENCODING_AES_KEY_RE.test(encodingAesKey)) throw new RangeError("an EncodingAESKey is exactly 43 characters of [A-Za-z0-9+/]");
  const bin = atob(`${encodingAesKey}=`);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const keys = new Map<string, Promise<PushKey>>();

/** Imported once per isolate and key text, non-extractable. */
export function importPushKey(encodingAesKey: string): Promise<PushKey> {
  return memoAsync(keys, encodingAesKey, async () => {
    const raw = pushKeyBytes(encodingAesKey);
    const key = await crypto.subtle.importKey("raw", raw, "AES-CBC", false, ["encrypt", "decrypt"]);
    return { key, iv: raw.slice(0, AES_BLOCK) };
  });
}

/** PKCS#7 to a multiple of 32 bytes: 1..32 bytes of value `32 − n % 32` (32 when already aligned). */
export function pad32(data: Uint8Array): Uint8Array {
  const pad = PAD_BLOCK - (data.length % PAD_BLOCK);
  const out = new Uint8Array(data.length + pad);
  out.set(data);
  out.fill(pad, data.length);
  return out;
}

/** Checks and strips 32-byte PKCS#7: the value must be 1..32 and every pad byte must equal it. */
export function unpad32(data: Uint8Array): Uint8Array {
  const pad = data[data.length - 1] ?? 0;
  if (data.length === 0 || data.length % PAD_BLOCK !== 0 || pad < 1 || pad > PAD_BLOCK) {
    throw new PushMalformed("bad_padding", "the decrypted push has no valid 32-byte PKCS#7 padding (wrong WX_PUSH_AES_KEY?)");
  }
  let diff = 0;
  for (let i = data.length - pad; i < data.length; i++) diff |= data[i]! ^ pad;
  if (diff !== 0) throw new PushMalformed("bad_padding", "the decrypted push has no valid 32-byte PKCS#7 padding (wrong WX_PUSH_AES_KEY?)");
  return data.subarray(0, data.length - pad);
}

export interface FullStr {
  random: Uint8Array;
  /** The pushed message (JSON or XML text). */
  msg: string;
  /** The trailing AppID; the caller compares it with ours. */
  appid: string;
}

export function encodeFullStr(random: Uint8Array, msg: string, appid: string): Uint8Array {
  if (random.length !== RANDOM_BYTES) throw new RangeError("the FullStr random prefix is 16 bytes");
  const m = utf8(msg);
  const a = utf8(appid);
  const out = new Uint8Array(RANDOM_BYTES + LENGTH_BYTES + m.length + a.length);
  out.set(random);
  new DataView(out.buffer).setUint32(RANDOM_BYTES, m.length, false);
  out.set(m, RANDOM_BYTES + LENGTH_BYTES);
  out.set(a, RANDOM_BYTES + LENGTH_BYTES + m.length);
  return out;
}

export function decodeFullStr(data: Uint8Array): FullStr {
  const head = RANDOM_BYTES + LENGTH_BYTES;
  if (data.length < head) throw new PushMalformed("bad_layout", "the decrypted push is shorter than its 20-byte header");
  const len = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(RANDOM_BYTES, false);
  if (len > data.length - head) throw new PushMalformed("bad_layout", "the decrypted push's msg_len exceeds its length");
  try {
    return {
      random: data.slice(0, RANDOM_BYTES),
      msg: fromUtf8(data.subarray(head, head + len)),
      appid: fromUtf8(data.subarray(head + len)),
    };
  } catch (cause) {
    throw new PushMalformed("bad_layout", "the decrypted push is not UTF-8", { cause });
  }
}

/** AES-CBC decryption without any padding removal, on WebCrypto (O.5). `ct` is a multiple of 16. */
async function rawCbcDecrypt({ key, iv }: PushKey, ct: Uint8Array): Promise<Uint8Array> {
  // One extra block E(last ⊕ 16×0x10) = the first block of encrypting 16×0x10 with IV = last:
  // it decrypts to a full 16-byte pad, which WebCrypto strips, leaving exactly the raw plaintext.
  const last = ct.subarray(ct.length - AES_BLOCK);
  const extra = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv: last }, key, new Uint8Array(AES_BLOCK).fill(AES_BLOCK)));
  const full = new Uint8Array(ct.length + AES_BLOCK);
  full.set(ct);
  full.set(extra.subarray(0, AES_BLOCK), ct.length);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv }, key, full));
}

/** `Encrypt` (base64) → FullStr, padding and layout checked. Call only after `msg_signature` verified. */
export async function decryptPush(encodingAesKey: string, encrypt: string): Promise<FullStr> {
  const ct = fromBase64(encrypt);
  if (!ct || ct.length === 0 || ct.length % PAD_BLOCK !== 0) {
    throw new PushMalformed("bad_ciphertext", "Encrypt is not base64 of a whole number of 32-byte blocks");
  }
  const plain = await rawCbcDecrypt(await importPushKey(encodingAesKey), ct);
  return decodeFullStr(unpad32(plain));
}

/** The inverse (for the simulator, tests and encrypted replies): base64 of the ciphertext. */
export async function encryptPush(encodingAesKey: string, msg: string, appid: string, random: Uint8Array): Promise<string> {
  const { key, iv } = await importPushKey(encodingAesKey);
  const padded = pad32(encodeFullStr(random, msg, appid));
  // WebCrypto adds its own 16-byte pad block after ours: drop it.
  const out = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, padded));
  return toBase64(out.subarray(0, padded.length));
}

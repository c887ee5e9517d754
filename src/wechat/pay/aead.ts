/**
 * @module wechat/pay/aead — AEAD_AES_256_GCM as WeChat uses it for notification resources and
 * downloaded certificates (WECHATPAY.md G.3): key = the APIv3 key's 32 UTF-8 bytes (never hex or
 * base64 decoded), nonce and associated_data as UTF-8, ciphertext = base64(ct ‖ 16-byte tag).
 *
 * WebCrypto silently accepts a 16-byte key (AES-128), so the length is checked here. The official
 * Go vectors use 16-byte keys; `allowAes128ForTestVectors` exists only so tests can replay them.
 */
import { fromBase64, fromUtf8, toBase64, utf8 } from "../../lib/encoding";
import { memoAsync } from "../../lib/memo";
import { DecryptError, InvalidKey } from "./errors";

export const AEAD_ALGORITHM = "AEAD_AES_256_GCM";
const TAG_BYTES = 16;

export interface AeadOptions {
  /** Accept a 16-byte key (AES-128-GCM). Only for replaying the official 16-byte-key test vectors. */
  allowAes128ForTestVectors?: boolean;
}

export interface AeadResource {
  nonce: string;
  associatedData: string;
  /** base64(ciphertext ‖ tag) */
  ciphertext: string;
}

const aesKeys = new Map<string, Promise<CryptoKey>>();

function importAesKey(apiv3Key: string, opts: AeadOptions): Promise<CryptoKey> {
  const raw = utf8(apiv3Key);
  const ok = raw.length === 32 || (opts.allowAes128ForTestVectors === true && raw.length === 16);
  if (!ok) {
    return Promise.reject(
      new InvalidKey(`WXPAY_APIV3_KEY: must be exactly 32 bytes (got ${raw.length}); it is the APIv3 key, not the APIv2 key`),
    );
  }
  return memoAsync(aesKeys, `${raw.length}:${apiv3Key}`, () =>
    crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]),
  );
}

/**
 * Decrypts to UTF-8 text. A wrong key, nonce, AAD or a modified ciphertext fails the tag check
 * and throws `DecryptError` — never returns garbage. A bad key length throws `InvalidKey`.
 */
export async function decryptAead(apiv3Key: string, r: AeadResource, opts: AeadOptions = {}): Promise<string> {
  const key = await importAesKey(apiv3Key, opts);
  const data = fromBase64(r.ciphertext);
  if (!data || data.length < TAG_BYTES) throw new DecryptError("ciphertext is not base64 of at least the 16-byte GCM tag");
  if (r.nonce.length === 0) throw new DecryptError("nonce is empty");
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: utf8(r.nonce), additionalData: utf8(r.associatedData), tagLength: TAG_BYTES * 8 },
      key,
      data,
    );
  } catch (cause) {
    throw new DecryptError(undefined, { cause });
  }
  try {
    return fromUtf8(plain);
  } catch (cause) {
    throw new DecryptError("decrypted resource is not UTF-8", { cause });
  }
}

/** The inverse, for tests and test tooling: base64(ciphertext ‖ tag). */
export async function encryptAead(apiv3Key: string, r: Omit<AeadResource, "ciphertext">, plaintext: string, opts: AeadOptions = {}): Promise<string> {
  const key = await importAesKey(apiv3Key, opts);
  const out = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: utf8(r.nonce), additionalData: utf8(r.associatedData), tagLength: TAG_BYTES * 8 },
    key,
    utf8(plaintext),
  );
  return toBase64(out);
}

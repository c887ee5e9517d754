/**
 * @module auth/keys — keys derived from SESSION_SECRET with HKDF-SHA256, one per purpose:
 * the HMAC key that signs session tokens and the AES-256-GCM key that encrypts `session_key`
 * at rest. Imported once per isolate and secret (non-extractable), then reused.
 *
 * Rotation (README "Key rotation"): while `SESSION_SECRET_PREVIOUS` is set, tokens signed and
 * `session_key`s sealed with it are still accepted (AES-GCM is authenticated, so trying the
 * previous key after the current one fails cannot mistake a value); new ones always use the
 * current secret, and every login re-seals its user's `session_key`.
 */
import { fromBase64, toBase64, utf8, fromUtf8 } from "../lib/encoding";
import type { Random } from "../lib/random";
import { memoAsync } from "../lib/memo";

export interface SessionKeys {
  tokenKey: CryptoKey;
  atRestKey: CryptoKey;
}

const cache = new Map<string, Promise<SessionKeys>>();

async function derive(secret: string): Promise<SessionKeys> {
  const ikm = await crypto.subtle.importKey("raw", utf8(secret), "HKDF", false, ["deriveKey"]);
  const hkdf = (info: string) => ({ name: "HKDF", hash: "SHA-256", salt: utf8("wxpay-edge/v1"), info: utf8(info) });
  const [tokenKey, atRestKey] = await Promise.all([
    crypto.subtle.deriveKey(hkdf("session-token"), ikm, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign", "verify"]),
    crypto.subtle.deriveKey(hkdf("session-key-at-rest"), ikm, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]),
  ]);
  return { tokenKey, atRestKey };
}

export function sessionKeys(secret: string): Promise<SessionKeys> {
  return memoAsync(cache, secret, () => derive(secret));
}

/** The current secret's keys first, then the previous secret's (during a rotation). */
export async function sessionKeyring(config: { sessionSecret: string; sessionSecretPrevious: string | null }): Promise<SessionKeys[]> {
  const current = sessionKeys(config.sessionSecret);
  return config.sessionSecretPrevious === null ? [await current] : Promise.all([current, sessionKeys(config.sessionSecretPrevious)]);
}

/** base64(iv ‖ ciphertext+tag); `aad` binds the ciphertext to its row (the openid). */
export async function sealAtRest(keys: SessionKeys, random: Random, plaintext: string, aad: string): Promise<string> {
  const iv = random.bytes(12);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(aad) }, keys.atRestKey, utf8(plaintext)),
  );
  const out = new Uint8Array(iv.length + ct.length);
  out.set(iv);
  out.set(ct, iv.length);
  return toBase64(out);
}

/** Opens a sealed value with the first of `keys` that authenticates it (current, then previous). */
export async function openAtRest(keys: SessionKeys | readonly SessionKeys[], sealed: string, aad: string): Promise<string> {
  const bytes = fromBase64(sealed);
  if (!bytes || bytes.length < 12 + 16) throw new Error("sealed value is malformed");
  const ring = Array.isArray(keys) ? (keys as readonly SessionKeys[]) : [keys as SessionKeys];
  let lastError: unknown = new Error("no key to open the sealed value");
  for (const k of ring) {
    try {
      const pt = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData: utf8(aad) },
        k.atRestKey,
        bytes.subarray(12),
      );
      return fromUtf8(pt);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** Seals and opens one kind of value at rest (one `aad`): for stores that should not know the keys. */
export interface Sealer {
  seal(plaintext: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

/** A Sealer on the current secret's at-rest key, opening with the previous one too during a rotation. */
export function atRestSealer(
  config: { sessionSecret: string; sessionSecretPrevious: string | null },
  random: Random,
  aad: string,
): Sealer {
  return {
    seal: async (plaintext) => sealAtRest(await sessionKeys(config.sessionSecret), random, plaintext, aad),
    open: async (sealed) => openAtRest(await sessionKeyring(config), sealed, aad),
  };
}

/**
 * @module test/simulator/crypto — the simulator's own WebCrypto primitives: SHA256withRSA
 * (WECHATPAY.md B.2, C.2), AEAD_AES_256_GCM (G.3), SHA-1 for bill hashes (I.2), and the
 * login-session extras (Q): the user-state HMAC and open data's AES-128-CBC.
 * Deliberately separate from src/wechat/pay and src/wechat/login.
 */
import { fromBase64, pemToDer, toBase64, toHex, utf8, fromUtf8 } from "../../src/lib/encoding";

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = pemToDer(pem, "PRIVATE KEY");
  if (!der) throw new Error("simulator: private key must be a PKCS#8 PEM");
  return crypto.subtle.importKey("pkcs8", der, RSA, false, ["sign"]);
}

export async function importPublicKey(pem: string): Promise<CryptoKey> {
  const der = pemToDer(pem, "PUBLIC KEY");
  if (!der) throw new Error("simulator: public key must be an SPKI PEM");
  return crypto.subtle.importKey("spki", der, RSA, false, ["verify"]);
}

/** SHA256withRSA (RSASSA-PKCS1-v1_5), standard base64 with padding (B.2). */
export async function rsaSign(key: CryptoKey, message: string): Promise<string> {
  return toBase64(await crypto.subtle.sign(RSA, key, utf8(message)));
}

/** false for any signature that is not strict base64 (e.g. the SIGNTEST probe, C.4) or does not verify. */
export async function rsaVerify(key: CryptoKey, message: string, signature: string): Promise<boolean> {
  const sig = fromBase64(signature);
  if (!sig) return false;
  try {
    return await crypto.subtle.verify(RSA, key, sig, utf8(message));
  } catch {
    return false;
  }
}

async function aesKey(apiv3Key: string, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  const raw = utf8(apiv3Key);
  if (raw.length !== 32) throw new Error("simulator: the APIv3 key must be exactly 32 bytes");
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, [usage]);
}

/** AEAD_AES_256_GCM: base64(ciphertext || 16-byte tag), nonce and AAD as UTF-8 (G.3). */
export async function aesGcmEncrypt(apiv3Key: string, nonce: string, aad: string, plaintext: string): Promise<string> {
  const key = await aesKey(apiv3Key, "encrypt");
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: utf8(nonce), additionalData: utf8(aad), tagLength: 128 },
    key,
    utf8(plaintext),
  );
  return toBase64(ct);
}

export async function aesGcmDecrypt(apiv3Key: string, nonce: string, aad: string, ciphertext: string): Promise<string> {
  const key = await aesKey(apiv3Key, "decrypt");
  const ct = fromBase64(ciphertext);
  if (!ct) throw new Error("simulator: ciphertext is not base64");
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: utf8(nonce), additionalData: utf8(aad), tagLength: 128 },
    key,
    ct,
  );
  return fromUtf8(pt);
}

export async function sha1Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-1", bytes));
}

/** The user-state signature (Q.1): HMAC-SHA256 keyed with the session_key text as UTF-8, lowercase hex. */
export async function userStateHmac(sessionKey: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", utf8(sessionKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(await crypto.subtle.sign("HMAC", key, utf8(body)));
}

/** Open data (Q.2): AES-128-CBC with key = base64-decoded session_key, 16-byte PKCS#7; base64. */
export async function openDataEncrypt(sessionKey: string, iv: Uint8Array, plaintext: string): Promise<string> {
  const raw = fromBase64(sessionKey);
  if (!raw || raw.length !== 16) throw new Error("simulator: a session_key is base64 of 16 bytes");
  const key = await crypto.subtle.importKey("raw", raw, "AES-CBC", false, ["encrypt"]);
  return toBase64(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, utf8(plaintext)));
}

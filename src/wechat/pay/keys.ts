/**
 * @module wechat/pay/keys — verification keys: importing WeChat Pay public keys and platform
 * certificates (X.509 via @peculiar/x509), and the combined resolver that picks a key by
 * `Wechatpay-Serial` (WECHATPAY.md C.5 "design recommendation", as Go's combined verifier does).
 *
 * Serial == WXPAY_PUBLIC_KEY_ID → the configured public key; any other serial → the platform
 * certificate store. Both at once is the certificate → public-key migration (L.3).
 */
import "reflect-metadata"; // @peculiar/x509 (tsyringe) needs it before it loads, or the Worker fails to start
import { X509Certificate } from "@peculiar/x509";
import { pemToDer, toBase64 } from "../../lib/encoding";
import { memoAsync } from "../../lib/memo";
import { InvalidKey, UnknownSerial } from "./errors";
import type { KeyResolver } from "./verifier";

const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** Imported verify keys by base64 SPKI: ~20 µs to use, not worth importing twice per isolate. */
const spkiKeys = new Map<string, Promise<CryptoKey>>();

/** An RSA SubjectPublicKeyInfo imported for RS256 verification, cached per isolate. */
export function importSpki(spkiBase64: string, der?: Uint8Array): Promise<CryptoKey> {
  return memoAsync(spkiKeys, spkiBase64, () => {
    const bytes = der ?? pemToDer(`-----BEGIN PUBLIC KEY-----\n${spkiBase64}\n-----END PUBLIC KEY-----`, "PUBLIC KEY");
    return bytes
      ? crypto.subtle.importKey("spki", bytes, RSA_SHA256, false, ["verify"]).catch((cause: unknown) => {
          throw new InvalidKey("a WeChat Pay public key is not an RSA SubjectPublicKeyInfo", { cause });
        })
      : Promise.reject(new InvalidKey("a WeChat Pay public key is not base64 DER"));
  });
}

export interface ParsedCertificate {
  /** Upper-case hex, leading zeros kept, DER sign byte dropped (as WeChat writes serials). */
  serial: string;
  spkiBase64: string;
  spki: Uint8Array;
  notBefore: number;
  notAfter: number;
}

/**
 * Parses a PEM certificate. Serial from the library as hex (never through BigInt, which would
 * drop leading zeros), upper-cased to match `Wechatpay-Serial` and `serial_no`.
 */
export function parseCertificate(pem: string): ParsedCertificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (cause) {
    throw new InvalidKey("not a parseable X.509 certificate", { cause });
  }
  const spki = new Uint8Array(cert.publicKey.rawData);
  return {
    serial: cert.serialNumber.toUpperCase(),
    spki,
    spkiBase64: toBase64(spki),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
  };
}

/** Keys by the PEM text they came from: the configured public key is resolved on every notification. */
const pemKeys = new Map<string, Promise<CryptoKey>>();

/** A verify key from an SPKI PEM (pub_key.pem) or from a certificate PEM; cached per isolate. */
export function importPublicKeyPem(pem: string): Promise<CryptoKey> {
  return memoAsync(pemKeys, pem, () => importPemUncached(pem));
}

function importPemUncached(pem: string): Promise<CryptoKey> {
  const spki = pemToDer(pem, "PUBLIC KEY");
  if (spki) return importSpki(toBase64(spki), spki);
  if (pemToDer(pem, "CERTIFICATE")) {
    const c = parseCertificate(pem);
    return importSpki(c.spkiBase64, c.spki);
  }
  return Promise.reject(new InvalidKey("WXPAY_PUBLIC_KEY: not a PEM public key (-----BEGIN PUBLIC KEY-----)"));
}

/**
 * C.5: serial equal to the public-key id → the public key; otherwise the certificate store
 * (null in public-key-only deployments that never downloaded certificates).
 */
export function createKeyResolver(opts: {
  publicKey: { id: string; pem: string } | null;
  certificates: KeyResolver | null;
}): KeyResolver {
  return {
    resolve(serial, origin) {
      if (opts.publicKey && serial === opts.publicKey.id) return importPublicKeyPem(opts.publicKey.pem);
      if (opts.certificates) return opts.certificates.resolve(serial, origin);
      return Promise.reject(new UnknownSerial(serial));
    },
  };
}

/** A fixed serial → key map (tests, vectors, and the bootstrap check of a certificate download). */
export function staticKeyResolver(keys: Record<string, CryptoKey | Promise<CryptoKey>>): KeyResolver {
  return {
    async resolve(serial: string): Promise<CryptoKey> {
      const k = keys[serial];
      if (!k) throw new UnknownSerial(serial);
      return k;
    },
  };
}

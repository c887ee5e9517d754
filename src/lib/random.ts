/** @module lib/random — the one source of randomness; injected so tests can be deterministic. */
export interface Random {
  /** n cryptographically random bytes. */
  bytes(n: number): Uint8Array;
}

export const cryptoRandom: Random = {
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    crypto.getRandomValues(out);
    return out;
  },
};

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const UPPER_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A random string over `alphabet` (rejection sampling: no modulo bias). */
export function randomString(random: Random, length: number, alphabet = ALNUM): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const b of random.bytes(length * 2)) {
      if (b < limit) out += alphabet[b % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** 32 characters of [0-9A-Za-z], the nonce shape the official SDKs use. */
export const nonce32 = (random: Random): string => randomString(random, 32);

/** An opaque id such as `ord_5KQ2…` (prefix + 20 characters of [0-9A-Z]). */
export const newId = (random: Random, prefix: string): string =>
  `${prefix}_${randomString(random, 20, UPPER_ALNUM)}`;

/** Deterministic Random for tests: a xorshift stream from a seed. */
export function seededRandom(seed: number): Random {
  let x = seed >>> 0 || 0x9e3779b9;
  return {
    bytes(n: number): Uint8Array {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        out[i] = x & 0xff;
      }
      return out;
    },
  };
}

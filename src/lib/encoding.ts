/** @module lib/encoding — base64, hex, UTF-8, PEM and constant-time comparison, runtime-neutral. */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
/** Decode UTF-8, throwing on invalid sequences (never silently replacing bytes). */
export const fromUtf8 = (b: Uint8Array | ArrayBuffer): string =>
  decoder.decode(b instanceof ArrayBuffer ? new Uint8Array(b) : b);

export function toBase64(bytes: Uint8Array | ArrayBuffer): string {
  const b = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The alphabet, then at most two `=` at the very end; with length % 4 === 0 that is exactly canonical padding. */
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict standard base64 (padding required); returns null for anything else. */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0 || !BASE64_RE.test(s)) return null;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export const toBase64Url = (bytes: Uint8Array | ArrayBuffer): string =>
  toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export function fromBase64Url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  const std = s.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(std + "=".repeat((4 - (std.length % 4)) % 4));
}

export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  const b = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Compare two strings in time that depends only on their lengths. */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = utf8(a);
  const y = utf8(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * The DER bytes inside a PEM block with the given label ("PRIVATE KEY", "PUBLIC KEY",
 * "CERTIFICATE"), or null when the text is not exactly such a block. Accepts `\n` written as
 * the two characters backslash-n (how env files often carry PEMs).
 */
export function pemToDer(pem: string, label: string): Uint8Array | null {
  const text = pem.replace(/\\n/g, "\n").replace(/\r/g, "").trim();
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  if (!text.startsWith(begin) || !text.endsWith(end)) return null;
  const body = text.slice(begin.length, text.length - end.length).replace(/\s+/g, "");
  const der = fromBase64(body);
  return der && der.length > 0 ? der : null;
}

export function derToPem(der: Uint8Array | ArrayBuffer, label: string): string {
  const b64 = toBase64(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? utf8(data) : data;
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}

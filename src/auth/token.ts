/**
 * @module auth/token — our own session tokens: compact JWS, HS256 only.
 *
 * The algorithm is pinned by comparing the header segment byte for byte with the one we
 * issue, so `alg: none`, HS512 or any other header is rejected before any crypto runs. `exp`
 * is required. The clock is passed in, never read here.
 */
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from "../lib/encoding";

export interface SessionClaims {
  /** Our user id. */
  sub: string;
  /** The user's openid (for logs and ownership; never trusted from the client body). */
  oid: string;
  iat: number;
  exp: number;
}

export class InvalidToken extends Error {
  constructor(readonly reason: "malformed" | "algorithm" | "signature" | "expired" | "claims") {
    super(`session token rejected: ${reason}`);
    this.name = "InvalidToken";
  }
}

const HEADER = toBase64Url(utf8(JSON.stringify({ alg: "HS256", typ: "JWT" })));

export async function signToken(key: CryptoKey, claims: SessionClaims): Promise<string> {
  const payload = toBase64Url(utf8(JSON.stringify(claims)));
  const input = `${HEADER}.${payload}`;
  const sig = await crypto.subtle.sign("HMAC", key, utf8(input));
  return `${input}.${toBase64Url(sig)}`;
}

export async function verifyToken(key: CryptoKey, token: string, nowSeconds: number): Promise<SessionClaims> {
  if (token.length > 4096) throw new InvalidToken("malformed");
  const parts = token.split(".");
  if (parts.length !== 3) throw new InvalidToken("malformed");
  const [header, payload, signature] = parts as [string, string, string];
  if (header !== HEADER) throw new InvalidToken("algorithm");
  const sig = fromBase64Url(signature);
  if (!sig || sig.length !== 32) throw new InvalidToken("signature");
  const ok = await crypto.subtle.verify("HMAC", key, sig, utf8(`${header}.${payload}`));
  if (!ok) throw new InvalidToken("signature");
  let claims: unknown;
  try {
    const raw = fromBase64Url(payload);
    claims = raw ? JSON.parse(fromUtf8(raw)) : null;
  } catch {
    throw new InvalidToken("malformed");
  }
  if (!isClaims(claims)) throw new InvalidToken("claims");
  if (nowSeconds >= claims.exp) throw new InvalidToken("expired");
  return claims;
}

function isClaims(v: unknown): v is SessionClaims {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    typeof c.sub === "string" &&
    typeof c.oid === "string" &&
    Number.isSafeInteger(c.iat) &&
    Number.isSafeInteger(c.exp)
  );
}

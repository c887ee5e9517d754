/**
 * @module auth/token — our own session tokens: compact JWS, HS256 only.
 *
 * The algorithm is pinned by comparing the header segment byte for byte with the one we
 * issue, so `alg: none`, HS512 or any other header is rejected before any crypto runs. The
 * signature must be spelled canonically (base64url without padding, unused bits zero): one
 * token, one spelling, so a token cannot be varied to slip past a deny list or a cache. Time
 * rules (SPEC §11): `exp` is required; a token is refused when its `iat` lies more than
 * MAX_FUTURE_SECONDS ahead, or when it is older than the *current* session TTL (lowering
 * SESSION_TTL_SECONDS shortens tokens already issued). Revocation (`sessionsValidAfter`) needs
 * the database and lives in auth/session.ts. The clock is passed in, never read here.
 */
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from "../lib/encoding";

export interface SessionClaims {
  /** Our user id. */
  sub: string;
  /** The user's openid (for logs and ownership; never trusted from the client body). */
  oid: string;
  /** Issued at, unix seconds. */
  iat: number;
  exp: number;
}

export type InvalidTokenReason = "malformed" | "algorithm" | "signature" | "expired" | "future" | "claims" | "revoked";

export class InvalidToken extends Error {
  constructor(readonly reason: InvalidTokenReason) {
    super(`session token rejected: ${reason}`);
    this.name = "InvalidToken";
  }
}

/** Clock skew tolerated between the isolate that issued a token and the one reading it. */
export const MAX_FUTURE_SECONDS = 60;

const HEADER = toBase64Url(utf8(JSON.stringify({ alg: "HS256", typ: "JWT" })));

export async function signToken(key: CryptoKey, claims: SessionClaims): Promise<string> {
  const payload = toBase64Url(utf8(JSON.stringify(claims)));
  const input = `${HEADER}.${payload}`;
  const sig = await crypto.subtle.sign("HMAC", key, utf8(input));
  return `${input}.${toBase64Url(sig)}`;
}

/**
 * The claims of a token we signed with one of `keys` (tried in order: current, then previous
 * secret during a rotation), checking form and signature only — no time rules. For callers
 * that need to know *who* a token names even when it is no longer valid (a 40226 login).
 */
export async function readSignedClaims(keys: readonly CryptoKey[], token: string): Promise<SessionClaims> {
  if (token.length > 4096) throw new InvalidToken("malformed");
  const parts = token.split(".");
  if (parts.length !== 3) throw new InvalidToken("malformed");
  const [header, payload, signature] = parts as [string, string, string];
  if (header !== HEADER) throw new InvalidToken("algorithm");
  const sig = fromBase64Url(signature);
  if (!sig || sig.length !== 32 || toBase64Url(sig) !== signature) throw new InvalidToken("signature");
  const input = utf8(`${header}.${payload}`);
  let ok = false;
  for (const key of keys) {
    if ((ok = await crypto.subtle.verify("HMAC", key, sig, input))) break;
  }
  if (!ok) throw new InvalidToken("signature");
  let claims: unknown;
  try {
    const raw = fromBase64Url(payload);
    claims = raw ? JSON.parse(fromUtf8(raw)) : null;
  } catch {
    throw new InvalidToken("malformed");
  }
  if (!isClaims(claims)) throw new InvalidToken("claims");
  return claims;
}

/**
 * A valid token's claims: signed by one of `keys`, not expired, `iat` not in the future beyond
 * the skew, and not older than `ttlSeconds` (the current SESSION_TTL_SECONDS).
 */
export async function verifyToken(
  keys: CryptoKey | readonly CryptoKey[],
  token: string,
  nowSeconds: number,
  ttlSeconds = Number.POSITIVE_INFINITY,
): Promise<SessionClaims> {
  const claims = await readSignedClaims(Array.isArray(keys) ? keys : [keys as CryptoKey], token);
  if (claims.iat > nowSeconds + MAX_FUTURE_SECONDS) throw new InvalidToken("future");
  if (nowSeconds >= claims.exp || nowSeconds - claims.iat >= ttlSeconds) throw new InvalidToken("expired");
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

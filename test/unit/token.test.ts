import { describe, expect, it } from "vitest";
import { sealAtRest, openAtRest, sessionKeys } from "../../src/auth/keys";
import { InvalidToken, signToken, verifyToken } from "../../src/auth/token";
import { fromBase64Url, toBase64Url, utf8 } from "../../src/lib/encoding";
import { cryptoRandom } from "../../src/lib/random";
import { SESSION_SECRET } from "../fixtures/keys";

const claims = { sub: "usr_1", oid: "o-openid-1", iat: 1_000, exp: 8_200 };

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidToken);
    return (e as InvalidToken).reason;
  }
  return "accepted";
}

describe("session tokens", () => {
  it("round-trips and expires exactly at exp", async () => {
    const { tokenKey } = await sessionKeys(SESSION_SECRET);
    const t = await signToken(tokenKey, claims);
    expect(await verifyToken(tokenKey, t, 8_199)).toEqual(claims);
    expect(await reason(verifyToken(tokenKey, t, 8_200))).toBe("expired");
  });

  it("rejects a tampered payload, a tampered signature, and another secret's tokens", async () => {
    const { tokenKey } = await sessionKeys(SESSION_SECRET);
    const t = await signToken(tokenKey, claims);
    const [h, p, s] = t.split(".") as [string, string, string];
    const forged = toBase64Url(utf8(JSON.stringify({ ...claims, sub: "usr_2" })));
    expect(await reason(verifyToken(tokenKey, `${h}.${forged}.${s}`, 2_000))).toBe("signature");
    const sig = fromBase64Url(s)!;
    sig[0] = sig[0]! ^ 1;
    expect(await reason(verifyToken(tokenKey, `${h}.${p}.${toBase64Url(sig)}`, 2_000))).toBe("signature");
    const other = await sessionKeys("another-session-secret-with-32-bytes-or-more!");
    expect(await reason(verifyToken(other.tokenKey, t, 2_000))).toBe("signature");
  });

  it("pins the algorithm: alg none and HS512 headers are refused before any crypto", async () => {
    const { tokenKey } = await sessionKeys(SESSION_SECRET);
    const t = await signToken(tokenKey, claims);
    const [, p] = t.split(".") as [string, string];
    const none = toBase64Url(utf8(JSON.stringify({ alg: "none", typ: "JWT" })));
    expect(await reason(verifyToken(tokenKey, `${none}.${p}.`, 2_000))).toBe("algorithm");
    const hs512 = toBase64Url(utf8(JSON.stringify({ alg: "HS512", typ: "JWT" })));
    expect(await reason(verifyToken(tokenKey, `${hs512}.${p}.AAAA`, 2_000))).toBe("algorithm");
  });

  it("requires exp and the other claims", async () => {
    const { tokenKey } = await sessionKeys(SESSION_SECRET);
    const noExp = await signToken(tokenKey, { sub: "u", oid: "o", iat: 1 } as never);
    expect(await reason(verifyToken(tokenKey, noExp, 2))).toBe("claims");
    expect(await reason(verifyToken(tokenKey, "a.b", 2))).toBe("malformed");
  });
});

describe("session_key at rest", () => {
  it("is sealed with AES-GCM bound to the openid", async () => {
    const keys = await sessionKeys(SESSION_SECRET);
    const sealed = await sealAtRest(keys, cryptoRandom, "HyVFkGl5F5OQWJZZaNzBBg==", "o-openid-1");
    expect(sealed).not.toContain("HyVFkGl5F5OQWJZZaNzBBg");
    expect(await openAtRest(keys, sealed, "o-openid-1")).toBe("HyVFkGl5F5OQWJZZaNzBBg==");
    await expect(openAtRest(keys, sealed, "o-openid-2")).rejects.toThrow();
  });
});

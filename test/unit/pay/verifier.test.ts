/**
 * Derived negatives for signed-message verification (WECHATPAY.md C): one bit flipped anywhere,
 * skew boundaries, missing headers, signature type, undecodable signatures, unknown serial.
 */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/lib/clock";
import { fromBase64, toBase64, utf8 } from "../../../src/lib/encoding";
import { BadSignature, MissingHeader, TimestampSkew, UnknownSerial, UnsupportedSignatureType, WechatPayError } from "../../../src/wechat/pay/errors";
import { importPublicKeyPem, staticKeyResolver } from "../../../src/wechat/pay/keys";
import { MAX_CLOCK_SKEW_SECONDS, verifySignedMessage } from "../../../src/wechat/pay/verifier";
import * as keys from "../../fixtures/keys";
import { PLATFORM1, PLATFORM2, PUBKEY, T0, T0S, signedHeaders } from "./support";

const resolver = staticKeyResolver({
  [keys.PLATFORM1_SERIAL]: importPublicKeyPem(keys.PLATFORM1_CERTIFICATE),
  [keys.PLATFORM2_SERIAL]: importPublicKeyPem(keys.PLATFORM2_CERTIFICATE),
  [keys.PUBLIC_KEY_ID]: importPublicKeyPem(keys.PUBLIC_KEY_PEM),
});
const BODY = '{"prepay_id":"wx201410272009395522657a690389285100","note":"支付 \\/ ok"}';
const verify = (headers: Headers, body: string | Uint8Array = BODY, clock = new FakeClock(T0)) =>
  verifySignedMessage({ headers, body, clock, keys: resolver });
const flipChar = (s: string, i: number) => s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ 1) + s.slice(i + 1);

describe("verifySignedMessage: the happy paths", () => {
  it("verifies string and raw-byte bodies signed by each key kind", async () => {
    for (const signer of [PLATFORM1, PLATFORM2, PUBKEY]) {
      const h = await signedHeaders(signer, BODY);
      await expect(verify(h)).resolves.toEqual({ serial: signer.serial, timestamp: String(T0S), nonce: h.get("Wechatpay-Nonce") });
      await expect(verify(h, utf8(BODY))).resolves.toBeDefined();
    }
  });
  it("verifies an empty body (204) as TS\\nNONCE\\n\\n", async () => {
    await expect(verify(await signedHeaders(PLATFORM1, ""), "")).resolves.toBeDefined();
    await expect(verify(await signedHeaders(PLATFORM1, ""), "{}")).rejects.toBeInstanceOf(BadSignature);
  });
  it("accepts a missing Wechatpay-Signature-Type (the default)", async () => {
    const h = await signedHeaders(PLATFORM1, BODY);
    h.delete("Wechatpay-Signature-Type");
    await expect(verify(h)).resolves.toBeDefined();
  });
});

describe("one bit flipped anywhere fails", () => {
  it("in the body (every position class: start, middle, multi-byte UTF-8, end)", async () => {
    const h = await signedHeaders(PLATFORM1, BODY);
    for (const i of [0, 10, BODY.indexOf("支"), BODY.length - 1]) {
      await expect(verify(h, flipChar(BODY, i))).rejects.toBeInstanceOf(BadSignature);
    }
    const bytes = utf8(BODY);
    bytes[5]! ^= 0x80;
    await expect(verify(h, bytes)).rejects.toBeInstanceOf(BadSignature);
  });
  it("in the signature bytes, the nonce and the timestamp", async () => {
    const h = await signedHeaders(PLATFORM1, BODY);
    const sig = fromBase64(h.get("Wechatpay-Signature")!)!;
    for (const i of [0, 100, 255]) {
      const s = sig.slice();
      s[i]! ^= 0x01;
      const hh = new Headers(h);
      hh.set("Wechatpay-Signature", toBase64(s));
      await expect(verify(hh)).rejects.toBeInstanceOf(BadSignature);
    }
    const hn = new Headers(h);
    hn.set("Wechatpay-Nonce", flipChar(h.get("Wechatpay-Nonce")!, 3));
    await expect(verify(hn)).rejects.toBeInstanceOf(BadSignature);
    const ht = new Headers(h);
    ht.set("Wechatpay-Timestamp", flipChar(String(T0S), 9)); // ±1 s: inside the window, so the signature must catch it
    await expect(verify(ht)).rejects.toBeInstanceOf(BadSignature);
  });
  it("a signature by the other platform key under this serial fails", async () => {
    const h = await signedHeaders(PLATFORM2, BODY);
    h.set("Wechatpay-Serial", keys.PLATFORM1_SERIAL);
    await expect(verify(h)).rejects.toBeInstanceOf(BadSignature);
  });
});

describe("clock skew (C.3): 300 s passes, 301 s fails, both directions", () => {
  it("is the constant 300", () => expect(MAX_CLOCK_SKEW_SECONDS).toBe(300));
  for (const [delta, ok] of [[300, true], [-300, true], [301, false], [-301, false], [3600, false]] as const) {
    it(`message ${delta > 0 ? "older" : "newer"} by ${Math.abs(delta)} s → ${ok ? "accepted" : "TimestampSkew"}`, async () => {
      const h = await signedHeaders(PLATFORM1, BODY, { ts: T0S - delta });
      const p = verify(h);
      if (ok) await expect(p).resolves.toBeDefined();
      else await expect(p).rejects.toBeInstanceOf(TimestampSkew);
    });
  }
  it("a non-numeric timestamp is TimestampSkew", async () => {
    const h = await signedHeaders(PLATFORM1, BODY);
    h.set("Wechatpay-Timestamp", "1764417600.0");
    await expect(verify(h)).rejects.toBeInstanceOf(TimestampSkew);
  });
});

describe("headers", () => {
  for (const name of ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]) {
    it(`missing or empty ${name} → MissingHeader`, async () => {
      const h = await signedHeaders(PLATFORM1, BODY);
      h.delete(name);
      await expect(verify(h)).rejects.toMatchObject({ name: "MissingHeader", header: name, notifyStatus: 401 });
      h.set(name, "");
      await expect(verify(h)).rejects.toBeInstanceOf(MissingHeader);
    });
  }
  it("another Wechatpay-Signature-Type → UnsupportedSignatureType", async () => {
    const h = await signedHeaders(PLATFORM1, BODY);
    h.set("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3");
    await expect(verify(h)).rejects.toBeInstanceOf(UnsupportedSignatureType);
  });
  it("an unknown serial → UnknownSerial", async () => {
    const h = await signedHeaders(PLATFORM1, BODY);
    h.set("Wechatpay-Serial", "7132D72A03E93CDDF8C03BBD1F37EEDF204C6B6A");
    await expect(verify(h)).rejects.toBeInstanceOf(UnknownSerial);
  });
});

describe("undecodable signatures are a clean BadSignature (C.4)", () => {
  it("SIGNTEST probe, garbage, unpadded, url-safe, too short: no other exception escapes", async () => {
    const good = (await signedHeaders(PLATFORM1, BODY)).get("Wechatpay-Signature")!;
    const bad = [`WECHATPAY/SIGNTEST/${good}`, "not base64 at all!", good.replace(/=+$/, ""), good.replace(/\+/g, "-").replace(/\//g, "_"), "AAAA", `WECHATPAY/SIGNTEST/${good}`.slice(0, 344)];
    for (const s of bad) {
      const h = await signedHeaders(PLATFORM1, BODY);
      h.set("Wechatpay-Signature", s);
      const err = await verify(h).catch((e: unknown) => e);
      expect(err, s.slice(0, 30)).toBeInstanceOf(BadSignature);
      expect((err as WechatPayError).notifyStatus).toBe(401);
      expect((err as WechatPayError).retryable).toBe(false);
    }
  });
});

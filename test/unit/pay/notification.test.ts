/**
 * Notifications through `createWechatPay().verifyNotification` (WECHATPAY.md G.2): verify on the
 * raw body, then parse, algorithm, decrypt, parse — each failure typed with its HTTP meaning.
 * Public-key mode, so no certificate download is involved.
 */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/lib/clock";
import { encryptAead } from "../../../src/wechat/pay/aead";
import { createCertificateCache } from "../../../src/wechat/pay/certificates";
import { BadAlgorithm, BadSignature, DecryptError, MalformedNotification, WechatPayError } from "../../../src/wechat/pay/errors";
import { createWechatPay } from "../../../src/wechat/pay/index";
import * as keys from "../../fixtures/keys";
import { FakeWechat, PUBKEY, T0, T0S, freshDb, publicKeyEnv, signedHeaders, testConfig, testDeps } from "./support";

const TX = { appid: keys.APPID, mchid: keys.MCHID, out_trade_no: "ORD_9", transaction_id: "4200000000000000009", trade_state: "SUCCESS", amount: { total: 1800, payer_total: 1800 } };

async function pay() {
  const fake = new FakeWechat();
  const deps = testDeps(fake.fetch, new FakeClock(T0));
  return { fake, pay: createWechatPay({ config: testConfig(publicKeyEnv), deps, db: await freshDb(), certificateCache: createCertificateCache() }) };
}

async function build(o: { plaintext?: string; aadSent?: string; aadUsed?: string; algorithm?: string; key?: string; envelope?: (e: Record<string, unknown>) => unknown; raw?: string } = {}) {
  const nonce = "fdasflkja484";
  const ciphertext = await encryptAead(o.key ?? keys.APIV3_KEY, { nonce, associatedData: o.aadUsed ?? "transaction" }, o.plaintext ?? JSON.stringify(TX));
  const env: Record<string, unknown> = {
    id: "EV-2018022511223320873",
    create_time: "2026-11-29T20:00:00+08:00",
    resource_type: "encrypt-resource",
    event_type: "TRANSACTION.SUCCESS",
    summary: "支付成功",
    resource: { original_type: "transaction", algorithm: o.algorithm ?? "AEAD_AES_256_GCM", ciphertext, associated_data: o.aadSent ?? "transaction", nonce },
  };
  const rawBody = o.raw ?? JSON.stringify(o.envelope ? o.envelope(env) : env);
  return { headers: await signedHeaders(PUBKEY, rawBody, { ts: T0S }), rawBody };
}

const failure = async (p: Promise<unknown>) => (await p.then(() => null, (e: unknown) => e)) as WechatPayError;

describe("verifyNotification", () => {
  it("returns the verified envelope and the decrypted Transaction", async () => {
    const { pay: p, fake } = await pay();
    expect(await p.verifyNotification(await build())).toEqual({
      id: "EV-2018022511223320873",
      create_time: "2026-11-29T20:00:00+08:00",
      resource_type: "encrypt-resource",
      event_type: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      serial: keys.PUBLIC_KEY_ID,
      original_type: "transaction",
      resource: TX,
    });
    expect(fake.calls).toHaveLength(0);
  });

  it("keeps PHP-style \\/ escapes: verified on the raw text, parsed after", async () => {
    const { pay: p } = await pay();
    const n = await build();
    const raw = n.rawBody.replace("encrypt-resource", "encrypt\\/resource");
    const r = await p.verifyNotification({ headers: await signedHeaders(PUBKEY, raw, { ts: T0S }), rawBody: raw });
    expect(r.resource_type).toBe("encrypt/resource");
    // The parsed-and-restringified body no longer verifies.
    const again = JSON.stringify(JSON.parse(raw));
    expect((await failure(p.verifyNotification({ headers: await signedHeaders(PUBKEY, raw, { ts: T0S }), rawBody: again }))).code).toBe("bad_signature");
  });

  it("auth failures → 401: bad signature, probe, missing header, skew, signature type", async () => {
    const { pay: p } = await pay();
    const n = await build();
    const cases: [string, (h: Headers) => void, string][] = [
      ["tampered", (h) => h.set("Wechatpay-Nonce", "x"), "bad_signature"],
      ["probe", (h) => h.set("Wechatpay-Signature", `WECHATPAY/SIGNTEST/${h.get("Wechatpay-Signature")}`), "bad_signature"],
      ["missing", (h) => h.delete("Wechatpay-Serial"), "missing_header"],
      ["skew", (h) => h.set("Wechatpay-Timestamp", String(T0S - 301)), "timestamp_skew"],
      ["type", (h) => h.set("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3"), "unsupported_signature_type"],
      ["serial", (h) => h.set("Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000000000"), "unknown_serial"],
    ];
    for (const [label, mutate, code] of cases) {
      const h = new Headers(n.headers);
      mutate(h);
      const e = await failure(p.verifyNotification({ headers: h, rawBody: n.rawBody }));
      expect(e, label).toBeInstanceOf(WechatPayError);
      expect({ label, code: e.code, status: e.notifyStatus }).toEqual({ label, code, status: 401 });
    }
  });

  it("malformed → 400: not JSON, no resource, bad algorithm, wrong AAD, wrong key, plaintext not JSON", async () => {
    const { pay: p } = await pay();
    const cases: [string, Awaited<ReturnType<typeof build>>, new (...a: never[]) => Error][] = [
      ["not JSON", await build({ raw: "id=EV-1&event_type=TRANSACTION.SUCCESS" }), MalformedNotification],
      ["no resource", await build({ envelope: (e) => ({ ...e, resource: undefined }) }), MalformedNotification],
      ["no id", await build({ envelope: (e) => ({ ...e, id: undefined }) }), MalformedNotification],
      ["algorithm", await build({ algorithm: "AEAD_AES_128_GCM" }), BadAlgorithm],
      ["wrong AAD", await build({ aadUsed: "refund", aadSent: "transaction" }), DecryptError],
      ["wrong key", await build({ key: "ZZZAPIv3Key0123456789abcdefghij0" }), DecryptError],
      ["plaintext not JSON", await build({ plaintext: "SUCCESS" }), MalformedNotification],
    ];
    for (const [label, n, cls] of cases) {
      const e = await failure(p.verifyNotification(n));
      expect(e, label).toBeInstanceOf(cls);
      expect(e.notifyStatus, label).toBe(400);
    }
  });

  it("signature is checked before anything is parsed: a tampered malformed body is 401, not 400", async () => {
    const { pay: p } = await pay();
    const n = await build({ raw: "not json" });
    expect((await failure(p.verifyNotification({ headers: n.headers, rawBody: "not json!" }))).constructor).toBe(BadSignature);
  });
});

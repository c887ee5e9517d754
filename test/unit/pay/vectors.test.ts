/**
 * The official vectors (test/fixtures/vectors.json, WECHATPAY.md K), reproduced byte for byte,
 * plus the vectors' own negative cases and the derived_negative_cases.
 */
import { describe, expect, it } from "vitest";
import vectorsJson from "../../fixtures/vectors.json";
import { FakeClock } from "../../../src/lib/clock";
import { sha256Hex } from "../../../src/lib/encoding";
import { decryptAead, encryptAead } from "../../../src/wechat/pay/aead";
import { decryptCertificateList } from "../../../src/wechat/pay/certificates";
import { BadSignature, DecryptError, InvalidKey, TimestampSkew } from "../../../src/wechat/pay/errors";
import { importPublicKeyPem, parseCertificate, staticKeyResolver } from "../../../src/wechat/pay/keys";
import { verifyNotification } from "../../../src/wechat/pay/notification";
import { buildPaySignMessage, signRequestPayment } from "../../../src/wechat/pay/payment";
import { buildAuthorization, buildSignMessage, importMerchantKey, sign } from "../../../src/wechat/pay/signer";
import { rsaVerify, verifySignedMessage } from "../../../src/wechat/pay/verifier";
import { utf8, fromBase64 } from "../../../src/lib/encoding";

type V = Record<string, any>;
const vectors = vectorsJson as unknown as { vectors: V[]; derived_negative_cases: V[] };
const vec = (id: string): V => {
  const v = vectors.vectors.find((x) => x.id === id);
  if (!v) throw new Error(`vector ${id} missing`);
  return v;
};
const neg = (id: string): V => vectors.derived_negative_cases.find((x) => x.id === id)!;
const clockAt = (ts: string | number, deltaS = 0) => new FakeClock((Number(ts) + deltaS) * 1000);
const verifies = async (pem: string, sig: string, msg: string) => rsaVerify(await importPublicKeyPem(pem), fromBase64(sig)!, utf8(msg));

describe("rsa-sha256-sign-go-source", () => {
  const v = vec("rsa-sha256-sign-go-source");
  it("signs \"source\" to the Go SDK's exact signature", async () => {
    expect(await sign(await importMerchantKey(v.private_key_pkcs8_pem), v.message)).toBe(v.expected_signature_base64);
  });
  it("verifies with both the certificate and the SPKI public key, and not a changed message", async () => {
    expect(await verifies(v.certificate_pem, v.expected_signature_base64, v.message)).toBe(true);
    expect(await verifies(v.public_key_spki_pem, v.expected_signature_base64, v.message)).toBe(true);
    expect(await verifies(v.public_key_spki_pem, v.expected_signature_base64, "sourcf")).toBe(false);
  });
  it("reads the certificate serial upper-case, DER sign byte dropped", () => {
    expect(parseCertificate(v.certificate_pem).serial).toBe("F5765756002FDD77");
  });
});

describe("rsa-sha256-sign-java-message", () => {
  const v = vec("rsa-sha256-sign-java-message");
  it("signs \"message\" to the Java SDK's exact signature, verifiable with its certificate", async () => {
    expect(await sign(await importMerchantKey(v.private_key_pem), v.message)).toBe(v.expected_signature_base64);
    expect(await verifies(v.certificate_pem, v.expected_signature_base64, v.message)).toBe(true);
    expect(parseCertificate(v.certificate_pem).serial).toBe(v.certificate_serial_label);
  });
  it("negative: the WeChat public key of another pair does NOT verify it", async () => {
    expect(await verifies(v.negative.public_key_pem, v.expected_signature_base64, v.message)).toBe(false);
  });
});

describe("official-doc-test-key", () => {
  const v = vec("official-doc-test-key");
  const [get, post, pay] = v.cases as V[];
  const ts = 1554208460;
  const nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
  it("GET with an empty body line: message and full signature, and the Authorization pairs", async () => {
    const msg = buildSignMessage("GET", "/v3/refund/domestic/refunds/123123123123", ts, nonce, "");
    expect(msg).toBe(get!.message);
    const signature = await sign(await importMerchantKey(v.private_key_pkcs8_pem), msg);
    expect(signature).toBe(get!.expected_signature_base64);
    const auth = buildAuthorization({ mchid: v.mchid, nonce, timestamp: ts, serialNo: v.merchant_serial_no, signature });
    expect(auth).toBe(
      `WECHATPAY2-SHA256-RSA2048 mchid="1900007291",nonce_str="${nonce}",timestamp="1554208460",serial_no="408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",signature="${signature}"`,
    );
    // Same pairs as the doc's example header (whose order differs; order does not matter, B.3).
    const pairs = (h: string) => h.replace(/^WECHATPAY2-SHA256-RSA2048 /, "").split(",").sort();
    expect(pairs(auth)).toEqual(pairs(get!.example_authorization_header));
  });
  it("JSAPI POST: message, and the signature's known prefix (44) and suffix (59)", async () => {
    const msg = buildSignMessage("POST", "/v3/pay/transactions/jsapi", ts, nonce, post!.body);
    expect(msg).toBe(post!.message);
    const s = await sign(await importMerchantKey(v.private_key_pkcs8_pem), msg);
    expect(s.slice(0, 44)).toBe(String(post!.expected_signature_base64).slice(0, 44));
    expect(s.slice(-59)).toBe(String(post!.expected_signature_base64).slice(-59));
    expect(s).toBe(post!.expected_signature_base64);
  });
  it("paySign: message and signature (prefix/suffix known, full value reproduced)", async () => {
    expect(buildPaySignMessage(pay!.appId, pay!.timeStamp, pay!.nonceStr, pay!.package)).toBe(pay!.message);
    const p = await signRequestPayment({
      key: await importMerchantKey(v.private_key_pkcs8_pem),
      appId: pay!.appId,
      prepayId: String(pay!.package).replace(/^prepay_id=/, ""),
      timeStamp: pay!.timeStamp,
      nonceStr: pay!.nonceStr,
    });
    expect(p).toEqual({ timeStamp: pay!.timeStamp, nonceStr: pay!.nonceStr, package: pay!.package, signType: "RSA", paySign: pay!.expected_paySign });
    expect(p.paySign.slice(0, 44)).toBe(String(pay!.expected_paySign).slice(0, 44));
  });
});

describe("request-sign-yansongda-h5", () => {
  const v = vec("request-sign-yansongda-h5");
  it("signs the message with PHP-escaped \\/ bytes to the exact signature", async () => {
    const lines = String(v.message).split("\n");
    expect(buildSignMessage(lines[0]!, lines[1]!, lines[2]!, lines[3]!, lines[4]!)).toBe(v.message);
    expect(await sign(await importMerchantKey(v.private_key_pem), v.message)).toBe(v.expected_signature_base64);
  });
});

describe("response-verify-yansongda", () => {
  const v = vec("response-verify-yansongda");
  const keys = staticKeyResolver({ [v.headers["Wechatpay-Serial"]]: importPublicKeyPem(v.public_key_pem) });
  it("verifies the answer over its raw body with the clock frozen at its timestamp", async () => {
    const r = await verifySignedMessage({ headers: new Headers(v.headers), body: v.body, clock: clockAt(v.headers["Wechatpay-Timestamp"]), keys });
    expect(r.serial).toBe("45F59D4DABF31918AFCEC556D5D2C6E376675D57");
  });
  it("fails when one byte of the body changes", async () => {
    const body = String(v.body).replace("h5_url", "h5_urm");
    await expect(verifySignedMessage({ headers: new Headers(v.headers), body, clock: clockAt(v.headers["Wechatpay-Timestamp"]), keys })).rejects.toBeInstanceOf(BadSignature);
  });
});

describe("resource-decrypt-yansongda-certificate", () => {
  const v = vec("resource-decrypt-yansongda-certificate");
  it("decrypts (AAD certificate) to the expected PEM, serial 45F59D4D…", async () => {
    const pem = await decryptAead(v.apiv3_key, { nonce: v.nonce, associatedData: v.associated_data, ciphertext: v.ciphertext_base64 });
    expect(pem.startsWith(v.expected_plaintext_prefix)).toBe(true);
    expect(await sha256Hex(pem)).toBe(v.expected_plaintext_sha256);
    expect(parseCertificate(pem).serial).toBe(v.decrypted_certificate_serial_hex);
  });
  it("negative: associated_data \"certificatea\" fails the tag check", async () => {
    await expect(decryptAead(v.apiv3_key, { nonce: v.nonce, associatedData: "certificatea", ciphertext: v.ciphertext_base64 })).rejects.toBeInstanceOf(DecryptError);
  });
});

describe("notification-verify-yansongda-callback", () => {
  const v = vec("notification-verify-yansongda-callback");
  const keys = staticKeyResolver({ [v.headers["Wechatpay-Serial"]]: importPublicKeyPem(v.public_key_pem) });
  const clock = clockAt(v.headers["Wechatpay-Timestamp"]);
  it("passes over the raw body with its \\/ escapes", async () => {
    expect(String(v.body)).toContain("\\/");
    await expect(verifySignedMessage({ headers: new Headers(v.headers), body: v.body, clock, keys })).resolves.toBeDefined();
  });
  it("fails over the same JSON re-serialised (slashes unescaped)", async () => {
    const reserialised = JSON.stringify(JSON.parse(v.body));
    expect(reserialised).not.toBe(v.body);
    await expect(verifySignedMessage({ headers: new Headers(v.headers), body: reserialised, clock, keys })).rejects.toBeInstanceOf(BadSignature);
  });
});

describe("notification-go-payscore", () => {
  const v = vec("notification-go-payscore");
  const keys = staticKeyResolver({ [v.headers["Wechatpay-Serial"]]: importPublicKeyPem(v.platform_certificate_pem) });
  const ts = v.headers["Wechatpay-Timestamp"];
  const run = (o: { headers?: Record<string, string>; body?: string; clock?: FakeClock; apiv3Key?: string; opt?: boolean } = {}) =>
    verifyNotification(
      { headers: new Headers({ ...v.headers, ...o.headers }), rawBody: o.body ?? v.body },
      { keys, clock: o.clock ?? clockAt(ts), apiv3Key: o.apiv3Key ?? v.apiv3_key, aead: { allowAes128ForTestVectors: o.opt ?? true } },
    );
  it("the certificate's serial is the header serial", () => {
    expect(parseCertificate(v.platform_certificate_pem).serial).toBe(v.headers["Wechatpay-Serial"]);
  });
  it("verifies, decrypts (16-byte key via the explicit opt-in) and parses the plaintext", async () => {
    const n = await run();
    expect(n).toMatchObject({ id: "3119dfba-e649-5eec-ab1e-3412bc4d2e17", event_type: "PAYSCORE.USER_OPEN_SERVICE", serial: "D7CE59D1F522D701", original_type: "payscore" });
    expect(n.resource).toEqual(JSON.parse(v.expected_plaintext));
  });
  it("without the opt-in, the 16-byte key is refused with a typed error", async () => {
    await expect(run({ opt: false })).rejects.toBeInstanceOf(InvalidKey);
  });
  it("neg-probe-signature: the WECHATPAY/SIGNTEST/ probe is a clean BadSignature", async () => {
    const p = neg("neg-probe-signature");
    await expect(run({ headers: { "Wechatpay-Signature": p.header_value } })).rejects.toBeInstanceOf(BadSignature);
  });
  it("neg-body-one-byte-changed: a trailing space fails", async () => {
    expect(neg("neg-body-one-byte-changed")).toBeDefined();
    await expect(run({ body: `${v.body} ` })).rejects.toBeInstanceOf(BadSignature);
  });
  it("neg-stale-timestamp: ±301 s rejected, ±300 s accepted", async () => {
    expect(neg("neg-stale-timestamp")).toBeDefined();
    await expect(run({ clock: clockAt(ts, 301) })).rejects.toBeInstanceOf(TimestampSkew);
    await expect(run({ clock: clockAt(ts, -301) })).rejects.toBeInstanceOf(TimestampSkew);
    await expect(run({ clock: clockAt(ts, 300) })).resolves.toBeDefined();
    await expect(run({ clock: clockAt(ts, -300) })).resolves.toBeDefined();
  });
});

describe("aesgcm-go-utils", () => {
  const v = vec("aesgcm-go-utils");
  const r = { nonce: v.nonce, associatedData: v.associated_data, ciphertext: v.ciphertext_base64 };
  const opt = { allowAes128ForTestVectors: true };
  it("decrypts with the 16-byte key only through the opt-in", async () => {
    expect(await decryptAead(v.key, r, opt)).toBe(v.expected_plaintext);
    await expect(decryptAead(v.key, r)).rejects.toBeInstanceOf(InvalidKey);
  });
  it("its negatives: wrong key, unauthenticated ciphertext, bad base64 all fail", async () => {
    await expect(decryptAead("testAPIv3Key1111", r, opt)).rejects.toBeInstanceOf(DecryptError);
    await expect(decryptAead(v.key, { ...r, ciphertext: "SGVsbG8gV29ybGQK" }, opt)).rejects.toBeInstanceOf(DecryptError);
    await expect(decryptAead(v.key, { ...r, ciphertext: "invalid cipher" }, opt)).rejects.toBeInstanceOf(DecryptError);
  });
});

describe("aesgcm-java-32byte-key", () => {
  const v = vec("aesgcm-java-32byte-key");
  const meta = { nonce: v.nonce, associatedData: v.associated_data };
  it("encrypts \"message\" to the exact ciphertext and decrypts it back", async () => {
    expect(await encryptAead(v.apiv3_key, meta, v.plaintext)).toBe(v.ciphertext_base64);
    expect(await decryptAead(v.apiv3_key, { ...meta, ciphertext: v.ciphertext_base64 })).toBe(v.plaintext);
  });
  it("its negatives: bad AAD, bad nonce; neg-wrong-apiv3-key: another 32-byte key", async () => {
    await expect(decryptAead(v.apiv3_key, { ...meta, associatedData: "bad-associatedData", ciphertext: v.ciphertext_base64 })).rejects.toBeInstanceOf(DecryptError);
    await expect(decryptAead(v.apiv3_key, { ...meta, nonce: "bad-4a9R25RW", ciphertext: v.ciphertext_base64 })).rejects.toBeInstanceOf(DecryptError);
    expect(neg("neg-wrong-apiv3-key")).toBeDefined();
    await expect(decryptAead("b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", { ...meta, ciphertext: v.ciphertext_base64 })).rejects.toBeInstanceOf(DecryptError);
  });
});

describe("certificates-download-java", () => {
  const v = vec("certificates-download-java");
  it("decrypts the download to the certificate 5DEA10EF… with its validity", async () => {
    const [c, ...rest] = await decryptCertificateList(v.response_body, v.apiv3_key);
    expect(rest).toHaveLength(0);
    expect(c!.serial).toBe("5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC");
    expect(c!.serial).toBe(v.expected_serial_no);
    expect(await sha256Hex(c!.pem)).toBe(v.expected_certificate_pem_sha256);
    expect(c!.effectiveAt).toBe(Date.parse(v.expected_certificate_not_before));
    expect(c!.expiresAt).toBe(Date.parse(v.expected_certificate_not_after));
  });
  it("a wrong APIv3 key fails with DecryptError, not garbage", async () => {
    await expect(decryptCertificateList(v.response_body, "b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")).rejects.toBeInstanceOf(DecryptError);
  });
});

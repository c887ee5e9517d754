/** AEAD_AES_256_GCM edge cases (WECHATPAY.md G.3) and wx.requestPayment parameters (E). */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/lib/clock";
import { fromBase64, toBase64, utf8 } from "../../../src/lib/encoding";
import { decryptAead, encryptAead } from "../../../src/wechat/pay/aead";
import { createCertificateCache } from "../../../src/wechat/pay/certificates";
import { DecryptError, InvalidKey } from "../../../src/wechat/pay/errors";
import { createWechatPay } from "../../../src/wechat/pay/index";
import { importPublicKeyPem } from "../../../src/wechat/pay/keys";
import { rsaVerify } from "../../../src/wechat/pay/verifier";
import * as keys from "../../fixtures/keys";
import { FakeWechat, T0, T0S, freshDb, testConfig, testDeps } from "./support";

const META = { nonce: "4196a5b75276", associatedData: "transaction" };

describe("AEAD_AES_256_GCM", () => {
  it("round-trips with the 32-byte key, including an empty AAD and Chinese text", async () => {
    const ct = await encryptAead(keys.APIV3_KEY, META, '{"summary":"支付成功"}');
    expect(await decryptAead(keys.APIV3_KEY, { ...META, ciphertext: ct })).toBe('{"summary":"支付成功"}');
    const ct2 = await encryptAead(keys.APIV3_KEY, { ...META, associatedData: "" }, "x");
    expect(await decryptAead(keys.APIV3_KEY, { ...META, associatedData: "", ciphertext: ct2 })).toBe("x");
  });
  it("rejects 16-byte keys without the opt-in, and other lengths always", async () => {
    await expect(decryptAead("testMchAPIv3Key0", { ...META, ciphertext: "AAAAAAAAAAAAAAAAAAAAAA==" })).rejects.toBeInstanceOf(InvalidKey);
    await expect(encryptAead("testMchAPIv3Key0", META, "x")).rejects.toBeInstanceOf(InvalidKey);
    await expect(encryptAead(`${keys.APIV3_KEY}!`, META, "x", { allowAes128ForTestVectors: true })).rejects.toBeInstanceOf(InvalidKey);
    await expect(encryptAead("短密钥短密钥短密钥短密钥短密钥短密钥", META, "x")).rejects.toMatchObject({ code: "invalid_key" }); // 18 chars, 54 bytes
  });
  it("any modified bit of ciphertext or tag, wrong nonce, wrong AAD → DecryptError", async () => {
    const ct = fromBase64(await encryptAead(keys.APIV3_KEY, META, "hello world"))!;
    for (const i of [0, 5, ct.length - 16, ct.length - 1]) {
      const b = ct.slice();
      b[i]! ^= 0x01;
      await expect(decryptAead(keys.APIV3_KEY, { ...META, ciphertext: toBase64(b) })).rejects.toBeInstanceOf(DecryptError);
    }
    const c = toBase64(ct);
    await expect(decryptAead(keys.APIV3_KEY, { ...META, nonce: "4196a5b75277", ciphertext: c })).rejects.toBeInstanceOf(DecryptError);
    await expect(decryptAead(keys.APIV3_KEY, { ...META, associatedData: "refund", ciphertext: c })).rejects.toBeInstanceOf(DecryptError);
    await expect(decryptAead(keys.APIV3_KEY, { ...META, ciphertext: toBase64(ct.slice(0, 15)) })).rejects.toBeInstanceOf(DecryptError);
  });
  it("a plaintext that is not UTF-8 is a DecryptError, not replacement characters", async () => {
    const key = await crypto.subtle.importKey("raw", utf8(keys.APIV3_KEY), "AES-GCM", false, ["encrypt"]);
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv: utf8(META.nonce), additionalData: utf8(META.associatedData) }, key, new Uint8Array([0xff, 0xfe, 0x41]));
    await expect(decryptAead(keys.APIV3_KEY, { ...META, ciphertext: toBase64(ct) })).rejects.toBeInstanceOf(DecryptError);
  });
});

describe("requestPayment (E)", () => {
  it("five fields; timeStamp 10-digit seconds; nonceStr 32; paySign over appid\\nts\\nnonce\\npackage\\n", async () => {
    const fake = new FakeWechat();
    const pay = createWechatPay({ config: testConfig(), deps: testDeps(fake.fetch, new FakeClock(T0 + 999)), db: await freshDb(), certificateCache: createCertificateCache() });
    const p = await pay.requestPayment("wx201410272009395522657a690389285100");
    expect(Object.keys(p).sort()).toEqual(["nonceStr", "package", "paySign", "signType", "timeStamp"]);
    expect(p.timeStamp).toBe(String(T0S));
    expect(p.timeStamp).toMatch(/^\d{10}$/);
    expect(p.nonceStr).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(p.package).toBe("prepay_id=wx201410272009395522657a690389285100");
    expect(p.signType).toBe("RSA");
    const key = await importPublicKeyPem(keys.MERCHANT_PUBLIC_KEY);
    const msg = `${keys.APPID}\n${p.timeStamp}\n${p.nonceStr}\n${p.package}\n`;
    expect(await rsaVerify(key, fromBase64(p.paySign)!, utf8(msg))).toBe(true);
    expect(await rsaVerify(key, fromBase64(p.paySign)!, utf8(`${msg}RSA\n`))).toBe(false);
    expect(fake.calls).toHaveLength(0);
  });
});

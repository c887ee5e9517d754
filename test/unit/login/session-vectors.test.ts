/**
 * The section-Q vectors (WECHATPAY.md Q.1, Q.2), byte for byte, through src/wechat/login alone:
 * `user-state-signature-official` (with its derived checksession value and the negative
 * "base64-decoded key" value) and `miniapp-open-data-decrypt-webcrypto` — the same data as
 * vectors.json's `miniapp-open-data-decrypt` — plus every way open data fails to decrypt.
 */
import { describe, expect, it } from "vitest";
import payVectors from "../../fixtures/vectors.json";
import serverVectors from "../../fixtures/wechat-server.json";
import { fromBase64, toBase64, toHex, utf8 } from "../../../src/lib/encoding";
import { decryptOpenData, OpenDataUndecryptable, OpenDataWatermarkMismatch } from "../../../src/wechat/login/open-data";
import { userStateSignature } from "../../../src/wechat/login/user-state";

type V = Record<string, any>;
const find = (list: V[], id: string): V => {
  const v = list.find((x) => x.id === id);
  if (!v) throw new Error(`vector ${id} missing`);
  return v;
};
const serverVec = (id: string) => find(serverVectors as V[], id);
const payVec = (id: string) => find(((payVectors as V).vectors ?? payVectors) as V[], id);

describe("user-state-signature-official", () => {
  const v = serverVec("user-state-signature-official");
  const { session_key: sessionKey, body } = v.inputs;

  it("HMAC-SHA256 keyed with the session_key text over the body, lowercase hex", async () => {
    expect(await userStateSignature(sessionKey, body)).toBe(v.expected.signature);
  });

  it("checksession's signature over the empty body (derived value)", async () => {
    expect(await userStateSignature(sessionKey, "")).toBe(v.expected.derived_checksession_signature_empty_body);
  });

  it("is not the HMAC keyed with the base64-decoded 16 bytes (negative value)", async () => {
    const decoded = await crypto.subtle.importKey("raw", fromBase64(sessionKey)!, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const wrong = toHex(await crypto.subtle.sign("HMAC", decoded, utf8(body)));
    expect(wrong).toBe(v.expected.negative_if_key_base64_decoded);
    expect(await userStateSignature(sessionKey, body)).not.toBe(wrong);
  });
});

describe("open data vectors", () => {
  const web = serverVec("miniapp-open-data-decrypt-webcrypto");
  const legacy = payVec("miniapp-open-data-decrypt");

  it("miniapp-open-data-decrypt-webcrypto: AES-128-CBC, native PKCS#7, watermark checked", async () => {
    const i = web.inputs;
    const data = await decryptOpenData({ sessionKey: i.session_key, encryptedData: i.encrypted_data, iv: i.iv, appid: i.appid });
    expect(data).toEqual(web.expected.plaintext_json);
    expect(data.watermark).toEqual({ timestamp: 1477314187, appid: i.appid });
  });

  it("miniapp-open-data-decrypt (vectors.json) is the same data and decrypts the same", async () => {
    expect([legacy.session_key, legacy.iv, legacy.encrypted_data, legacy.appid]).toEqual([web.inputs.session_key, web.inputs.iv, web.inputs.encrypted_data, web.inputs.appid]);
    const data = await decryptOpenData({ sessionKey: legacy.session_key, encryptedData: legacy.encrypted_data, iv: legacy.iv, appid: legacy.appid });
    expect(data).toEqual(legacy.expected_plaintext_json);
  });
});

describe("decryptOpenData failures", () => {
  const i = serverVec("miniapp-open-data-decrypt-webcrypto").inputs;
  const base = { sessionKey: i.session_key as string, encryptedData: i.encrypted_data as string, iv: i.iv as string, appid: i.appid as string };
  const reason = async (over: Partial<typeof base>) => {
    try {
      await decryptOpenData({ ...base, ...over });
    } catch (err) {
      return err instanceof OpenDataUndecryptable ? err.reason : err;
    }
    return "decrypted";
  };
  const flip = (b64: string, at: number) => {
    const b = fromBase64(b64)!;
    b[at]! ^= 0x01;
    return toBase64(b);
  };

  it("a watermark of another AppID → OpenDataWatermarkMismatch", async () => {
    await expect(decryptOpenData({ ...base, appid: "wx0000000000000000" })).rejects.toBeInstanceOf(OpenDataWatermarkMismatch);
  });

  it("another session_key → undecryptable (bad padding or garbage, never data)", async () => {
    expect(await reason({ sessionKey: "o0q0otL8aEzpcZL/FT9WsQ==" })).toBe("decrypt");
  });

  it("a changed iv garbles the first block → not JSON", async () => {
    expect(await reason({ iv: flip(base.iv, 0) })).toBe("not_json");
  });

  it("a changed last block breaks the padding", async () => {
    const ct = fromBase64(base.encryptedData)!;
    expect(await reason({ encryptedData: flip(base.encryptedData, ct.length - 1) })).toBe("decrypt");
  });

  it("malformed key, iv or data → undecryptable before any decryption", async () => {
    expect(await reason({ sessionKey: "not base64!" })).toBe("session_key");
    expect(await reason({ sessionKey: toBase64(new Uint8Array(32)) })).toBe("session_key");
    expect(await reason({ iv: toBase64(new Uint8Array(12)) })).toBe("iv");
    expect(await reason({ encryptedData: "" })).toBe("encrypted_data");
    expect(await reason({ encryptedData: toBase64(fromBase64(base.encryptedData)!.subarray(1)) })).toBe("encrypted_data");
  });

  it("a JSON value that is not an object, or an object without a watermark", async () => {
    const key = await crypto.subtle.importKey("raw", fromBase64(base.sessionKey)!, "AES-CBC", false, ["encrypt"]);
    const iv = new Uint8Array(16);
    const seal = async (text: string) => toBase64(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, utf8(text)));
    const over = async (text: string) => ({ encryptedData: await seal(text), iv: toBase64(iv) });
    expect(await reason(await over("[1,2]"))).toBe("not_json");
    expect(await reason(await over("null"))).toBe("not_json");
    await expect(decryptOpenData({ ...base, ...(await over('{"stepInfoList":[]}')) })).rejects.toBeInstanceOf(OpenDataWatermarkMismatch);
    expect(await decryptOpenData({ ...base, ...(await over(`{"a":1,"watermark":{"appid":"${base.appid}","timestamp":1}}`)) })).toEqual({ a: 1, watermark: { appid: base.appid, timestamp: 1 } });
  });
});

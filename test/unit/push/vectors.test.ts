/**
 * The message-push vectors of test/fixtures/wechat-server.json (WECHATPAY.md O.7), byte for byte,
 * through src/wechat/push alone — plus the derived negative case: WebCrypto's own AES-CBC cannot
 * decrypt the official ciphertext (its pad is 19, WebCrypto insists on ≤ 16).
 */
import { describe, expect, it } from "vitest";
import serverVectors from "../../fixtures/wechat-server.json";
import { FakeClock } from "../../../src/lib/clock";
import { fromBase64, toHex, utf8 } from "../../../src/lib/encoding";
import { decodeFullStr, decryptPush, encryptPush, pushKeyBytes } from "../../../src/wechat/push/cipher";
import { msgSignature, sortedSha1, urlSignature } from "../../../src/wechat/push/signature";
import { openPush, verifyPushUrl } from "../../../src/wechat/push/verify";

type V = Record<string, any>;
const vec = (id: string): V => {
  const v = (serverVectors as V[]).find((x) => x.id === id);
  if (!v) throw new Error(`vector ${id} missing`);
  return v;
};
const ascii = (s: string) => utf8(s);
/** WeChat's pad value: ciphertext length minus the FullStr's (the random, length, msg and appid). */
async function padValueOf(encodingAesKey: string, encrypt: string): Promise<number> {
  const full = await decryptPush(encodingAesKey, encrypt);
  const ct = fromBase64(encrypt)!;
  const body = 20 + utf8(full.msg).length + utf8(full.appid).length;
  return ct.length - body;
}

describe("msgpush-url-verify-official", () => {
  const v = vec("msgpush-url-verify-official");
  it("signature = sha1(sorted Token, timestamp, nonce), lowercase hex; the reply is echostr verbatim", async () => {
    const { token, timestamp, nonce, echostr } = v.inputs;
    expect([token, timestamp, nonce].sort()).toEqual(v.expected.sorted);
    expect(await urlSignature(token, timestamp, nonce)).toBe(v.expected.signature);
    expect(await verifyPushUrl({ signature: v.expected.signature, timestamp, nonce, echostr }, token)).toBe(v.expected.response_body);
  });
});

describe("msgpush-plain-post-official", () => {
  const v = vec("msgpush-plain-post-official");
  it("signature covers Token, timestamp and nonce only", async () => {
    expect(await urlSignature(v.inputs.token, v.inputs.timestamp, v.inputs.nonce)).toBe(v.expected.signature);
  });
  it("is refused: a plaintext push is not signature-bound to its body", async () => {
    const { token, timestamp, nonce, body } = v.inputs;
    const open = openPush(
      { query: { signature: v.expected.signature, timestamp, nonce }, rawBody: JSON.stringify(body) },
      { token, aesKeys: ["A".repeat(43)], appid: "wxba5fad812f8e6fb9" },
      new FakeClock(Number(timestamp) * 1000),
    );
    await expect(open).rejects.toMatchObject({ code: "plaintext_refused", status: 401 });
  });
});

describe("msgpush-safe-mode-official", () => {
  const v = vec("msgpush-safe-mode-official");
  const { token, encoding_aes_key: key, appid, query, body } = v.inputs;
  const e = v.expected;

  it("AES key and IV from the 43-character EncodingAESKey", () => {
    const raw = pushKeyBytes(key);
    expect(toHex(raw)).toBe(e.aes_key_hex);
    expect(toHex(raw.slice(0, 16))).toBe(e.iv_hex);
  });

  it("signature and msg_signature", async () => {
    expect(await urlSignature(token, query.timestamp, query.nonce)).toBe(e.signature);
    expect(await msgSignature(token, query.timestamp, query.nonce, body.Encrypt)).toBe(e.msg_signature);
  });

  it("decrypts to the FullStr: random, msg_len, msg, appid, with pad 19 (> 16)", async () => {
    expect(fromBase64(body.Encrypt)!.length).toBe(e.ciphertext_bytes);
    const full = await decryptPush(key, body.Encrypt);
    expect(new TextDecoder().decode(full.random)).toBe(e.random);
    expect(utf8(full.msg).length).toBe(e.msg_len);
    expect(full.msg).toBe(e.msg);
    expect(full.appid).toBe(e.appid);
    expect(20 + e.msg_len + full.appid.length).toBe(e.fullstr_bytes);
    expect(await padValueOf(key, body.Encrypt)).toBe(e.pkcs7_pad_value);
  });

  it("re-encrypts to the same bytes from the same random", async () => {
    const full = await decryptPush(key, body.Encrypt);
    expect(await encryptPush(key, full.msg, full.appid, full.random)).toBe(body.Encrypt);
  });

  it("opens end to end through the push pipeline (the official safe-mode request)", async () => {
    const opened = await openPush({ query, rawBody: JSON.stringify(body) }, { token, aesKeys: [key], appid }, new FakeClock(Number(query.timestamp) * 1000));
    expect(opened).toEqual({ format: "json", message: JSON.parse(e.msg), keyIndex: 0 });
  });

  it("negative: a naive WebCrypto AES-CBC decrypt throws OperationError on it", async () => {
    const raw = pushKeyBytes(key);
    const k = await crypto.subtle.importKey("raw", raw, "AES-CBC", false, ["decrypt"]);
    const naive = crypto.subtle.decrypt({ name: "AES-CBC", iv: raw.slice(0, 16) }, k, fromBase64(body.Encrypt)!);
    await expect(naive).rejects.toMatchObject({ name: "OperationError" });
  });
});

describe("msgpush-safe-mode-reply-official", () => {
  const v = vec("msgpush-safe-mode-reply-official");
  it("the encrypted reply: Encrypt and MsgSignature from the fixed random", async () => {
    const i = v.inputs;
    const encrypt = await encryptPush(i.encoding_aes_key, i.msg, i.appid, ascii(i.random16));
    expect(encrypt).toBe(v.expected.Encrypt);
    expect(fromBase64(encrypt)!.length).toBe(v.expected.ciphertext_bytes);
    expect(await msgSignature(i.token, String(i.TimeStamp), i.Nonce, encrypt)).toBe(v.expected.MsgSignature);
    const back = await decryptPush(i.encoding_aes_key, encrypt);
    expect(20 + utf8(back.msg).length + back.appid.length).toBe(v.expected.fullstr_bytes);
  });
});

describe("msgcrypt-wxjava-encrypt", () => {
  const v = vec("msgcrypt-wxjava-encrypt");
  const i = v.inputs;
  it("encrypts with a fixed random; msg_len counts UTF-8 bytes; the key's last character has non-zero trailing bits", async () => {
    const encrypt = await encryptPush(i.encoding_aes_key, i.msg, i.appid, ascii(i.random16));
    expect(encrypt).toBe(v.expected.Encrypt);
    const full = await decryptPush(i.encoding_aes_key, encrypt);
    expect(full.msg).toBe(i.msg);
    expect(utf8(full.msg).length).toBe(v.expected.msg_len);
    expect(await padValueOf(i.encoding_aes_key, encrypt)).toBe(v.expected.pkcs7_pad_value);
    expect(await msgSignature(i.token, i.timestamp, i.nonce, encrypt)).toBe(v.expected.derived_msg_signature);
  });
});

describe("msgcrypt-easywechat-decrypt", () => {
  const v = vec("msgcrypt-easywechat-decrypt");
  const i = v.inputs;
  it("msg_signature, then decrypt (pad 21) to an XML message and the appid", async () => {
    expect(await msgSignature(i.token, i.timestamp, i.nonce, i.Encrypt)).toBe(i.msg_signature);
    const full = await decryptPush(i.encoding_aes_key, i.Encrypt);
    expect(new TextDecoder().decode(full.random)).toBe(v.expected.random);
    expect(full.msg).toBe(v.expected.msg);
    expect(utf8(full.msg).length).toBe(v.expected.msg_len);
    expect(full.appid).toBe(v.expected.appid);
    expect(await padValueOf(i.encoding_aes_key, i.Encrypt)).toBe(v.expected.pkcs7_pad_value);
  });
  it("opens as an XML push (body <xml><ToUserName/><Encrypt/></xml>) and reads the XML message", async () => {
    const rawBody = `<xml><ToUserName><![CDATA[asdasdasd]]></ToUserName><Encrypt><![CDATA[${i.Encrypt}]]></Encrypt></xml>`;
    const signature = await urlSignature(i.token, i.timestamp, i.nonce);
    const opened = await openPush(
      { query: { signature, timestamp: i.timestamp, nonce: i.nonce, encrypt_type: "aes", msg_signature: i.msg_signature }, rawBody },
      { token: i.token, aesKeys: [i.encoding_aes_key], appid: i.appid },
      new FakeClock(Number(i.timestamp) * 1000),
    );
    expect(opened.format).toBe("xml");
    expect(opened.message).toEqual({
      URL: "http://wechat.laravel.so/server",
      ToUserName: "asdasdasd",
      FromUserName: "asdasdasdsadasd",
      CreateTime: "1234567898",
      MsgType: "text",
      Content: "hello",
      MsgId: "12345",
    });
  });
});

describe("msgcrypt-wechatpy-wecom", () => {
  const v = vec("msgcrypt-wechatpy-wecom");
  const i = v.inputs;
  it("decrypts (pad 1) and encrypts with a fixed random — the same AES scheme, WeCom's receive id", async () => {
    expect(await msgSignature(i.token, i.decrypt.timestamp, i.decrypt.nonce, i.decrypt.Encrypt)).toBe(i.decrypt.msg_signature);
    const full = await decryptPush(i.encoding_aes_key, i.decrypt.Encrypt);
    expect(full.msg).toBe(v.expected.decrypted_msg);
    expect(full.appid).toBe(i.receive_id);
    expect(await padValueOf(i.encoding_aes_key, i.decrypt.Encrypt)).toBe(v.expected.pkcs7_pad_value);
    const enc = await encryptPush(i.encoding_aes_key, i.encrypt.msg, i.receive_id, ascii(i.encrypt.random16));
    expect(enc).toBe(v.expected.encrypt_Encrypt);
    expect(await msgSignature(i.token, i.encrypt.timestamp, i.encrypt.nonce, enc)).toBe(v.expected.encrypt_MsgSignature);
  });
  it("WeCom's URL verification signs the encrypted echostr too (four parts) — not the mini-program GET", async () => {
    const u = i.wecom_url_verify;
    expect(await sortedSha1([i.token, u.timestamp, u.nonce, u.echostr])).toBe(v.expected.wecom_url_verify_signature);
    expect(await urlSignature(i.token, u.timestamp, u.nonce)).not.toBe(v.expected.wecom_url_verify_signature);
  });
});

describe("msgsig-node-webot", () => {
  it("sort + sha1 over four strings", async () => {
    const i = vec("msgsig-node-webot").inputs;
    expect(await msgSignature(i.token, i.timestamp, i.nonce, i.encrypt)).toBe(vec("msgsig-node-webot").expected.signature);
  });
});

describe("FullStr layout", () => {
  it("refuses a msg_len that runs past the end", () => {
    const bytes = new Uint8Array(24);
    new DataView(bytes.buffer).setUint32(16, 5);
    expect(() => decodeFullStr(bytes)).toThrow(/msg_len/);
  });
});

describe("openPush: query checks before any crypto", () => {
  const v = vec("msgpush-safe-mode-official");
  const { token, encoding_aes_key: key, appid, query, body } = v.inputs;
  const secrets = { token, aesKeys: [key], appid };
  const at = new FakeClock(Number(query.timestamp) * 1000);
  const open = (q: Record<string, string | undefined>, raw = JSON.stringify(body), clock = at) => openPush({ query: q, rawBody: raw }, secrets, clock);

  it("accepts upper-case hex signatures", async () => {
    await expect(open({ ...query, signature: query.signature.toUpperCase(), msg_signature: query.msg_signature.toUpperCase() })).resolves.toMatchObject({ keyIndex: 0 });
  });
  it.each([
    ["encrypt_type other than aes", { encrypt_type: "raw" }, "plaintext_refused"],
    ["no msg_signature", { msg_signature: undefined }, "plaintext_refused"],
    ["no signature", { signature: undefined }, "missing_parameter"],
    ["no nonce", { nonce: undefined }, "missing_parameter"],
    ["a timestamp that is not seconds", { timestamp: "1714112445.0" }, "bad_timestamp"],
  ])("refuses %s (401)", async (_label, over, code) => {
    await expect(open({ ...query, ...over })).rejects.toMatchObject({ code, status: 401 });
  });
  it("the previous key when the current one fails; other AppIDs are refused (401)", async () => {
    const both = { ...secrets, aesKeys: ["B".repeat(43), key] };
    await expect(openPush({ query, rawBody: JSON.stringify(body) }, both, at)).resolves.toMatchObject({ keyIndex: 1 });
    await expect(openPush({ query, rawBody: JSON.stringify(body) }, { ...secrets, appid: "wx0000000000000000" }, at)).rejects.toMatchObject({ code: "other_appid", status: 401 });
  });
});

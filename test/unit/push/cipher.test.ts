/**
 * The push cipher's own checks (WECHATPAY.md O.4 step 4): 32-byte PKCS#7 validated by us, not by
 * WebCrypto; every pad value 1..32 round-trips; bad pads, bad lengths and wrong keys are refused.
 */
import { describe, expect, it } from "vitest";
import { fromBase64, toBase64, utf8 } from "../../../src/lib/encoding";
import { decryptPush, encryptPush, pad32, pushKeyBytes, unpad32 } from "../../../src/wechat/push/cipher";

const KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const OTHER = "B".repeat(43);
const R16 = utf8("0123456789abcdef");

describe("32-byte PKCS#7", () => {
  it("pads 1..32 bytes (32 when already aligned) and strips exactly that", () => {
    for (let n = 0; n <= 70; n++) {
      const data = new Uint8Array(n).fill(7);
      const padded = pad32(data);
      expect(padded.length % 32).toBe(0);
      expect(padded.length - n).toBe(32 - (n % 32));
      expect(unpad32(padded)).toEqual(data);
    }
  });

  it("refuses a pad value of 0 or above 32, unequal pad bytes and lengths that are not 32-byte blocks", () => {
    const block = (last: number) => {
      const b = new Uint8Array(32).fill(last);
      return b;
    };
    expect(() => unpad32(block(0))).toThrow(/padding/);
    expect(() => unpad32(block(33))).toThrow(/padding/);
    const mixed = block(4);
    mixed[29] = 5;
    expect(() => unpad32(mixed)).toThrow(/padding/);
    expect(() => unpad32(new Uint8Array(16).fill(16))).toThrow(/padding/);
    expect(() => unpad32(new Uint8Array(0))).toThrow(/padding/);
  });

  it("round-trips messages whose pads are above 16 (where WebCrypto alone fails) and below", async () => {
    for (const len of [0, 1, 11, 12, 13, 27, 28, 44, 45, 100]) {
      const msg = "x".repeat(len);
      const enc = await encryptPush(KEY, msg, "wx1234567890abcdef", R16);
      expect((await decryptPush(KEY, enc)).msg).toBe(msg);
    }
  });
});

describe("decryptPush refusals", () => {
  it("a ciphertext that is not whole 32-byte blocks, or not base64", async () => {
    const enc = fromBase64(await encryptPush(KEY, "{}", "wx1234567890abcdef", R16))!;
    await expect(decryptPush(KEY, toBase64(enc.subarray(0, enc.length - 16)))).rejects.toMatchObject({ code: "bad_ciphertext", status: 400 });
    await expect(decryptPush(KEY, "not base64!")).rejects.toMatchObject({ code: "bad_ciphertext" });
    await expect(decryptPush(KEY, "")).rejects.toMatchObject({ code: "bad_ciphertext" });
  });

  it("a ciphertext whose last block was altered: bad padding", async () => {
    const enc = fromBase64(await encryptPush(KEY, '{"a":1}', "wx1234567890abcdef", R16))!;
    enc[enc.length - 17]! ^= 0x01; // flips the last plaintext byte (the pad value) through CBC
    await expect(decryptPush(KEY, toBase64(enc))).rejects.toMatchObject({ code: "bad_padding", status: 400 });
  });

  it("another key: never returns the message", async () => {
    const enc = await encryptPush(KEY, '{"Event":"x"}', "wx1234567890abcdef", R16);
    const r = await decryptPush(OTHER, enc).then((f) => f.msg, (e: { status: number }) => e.status);
    expect(r).not.toBe('{"Event":"x"}');
  });

  it("EncodingAESKey: exactly 43 base64 characters", () => {
    expect(pushKeyBytes(KEY).length).toBe(32);
    expect(() => pushKeyBytes(KEY.slice(1))).toThrow(RangeError);
    expect(() => pushKeyBytes(`${KEY.slice(1)}=`)).toThrow(RangeError);
    expect(() => pushKeyBytes(`${KEY.slice(1)}-`)).toThrow(RangeError);
  });
});

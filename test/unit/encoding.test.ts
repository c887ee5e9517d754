import { describe, expect, it } from "vitest";
import { fromBase64, fromBase64Url, toBase64, utf8 } from "../../src/lib/encoding";

describe("fromBase64 (strict standard base64)", () => {
  it.each(["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "+/+/"])("decodes %j", (s) => {
    const bytes = fromBase64(s)!;
    expect(bytes).not.toBeNull();
    expect(toBase64(bytes)).toBe(s);
  });

  it.each([
    ["missing padding", "Zg"],
    ["wrong length", "Zm9vY"],
    ["three pads", "Z==="],
    ["four pads", "===="],
    ["pad in the middle", "Zg==Zg=="],
    ["whitespace", "Zm9v\n"],
    ["url alphabet", "-_-_"],
    ["non-ASCII", "Zm9vé==="],
  ])("rejects %s", (_why, s) => {
    expect(fromBase64(s)).toBeNull();
  });

  it("round-trips every byte value", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromBase64(toBase64(all))).toEqual(all);
    expect(fromBase64Url(toBase64(utf8("ok?>")).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""))).toEqual(utf8("ok?>"));
  });
});

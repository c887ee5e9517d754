import { describe, expect, it } from "vitest";
import {
  buildDescription,
  decodeCursor,
  encodeCursor,
  formatTimeExpire,
  newOutTradeNo,
  OUT_TRADE_NO_PATTERN,
  requestHash,
} from "../../../src/orders/format";
import { seededRandom } from "../../../src/lib/random";

describe("formatTimeExpire", () => {
  it("is RFC 3339 in +08:00 with seconds precision", () => {
    expect(formatTimeExpire(Date.UTC(2026, 10, 29, 12, 30, 0, 999))).toBe("2026-11-29T20:30:00+08:00");
    expect(formatTimeExpire(Date.UTC(2026, 11, 31, 16, 0, 1))).toBe("2027-01-01T00:00:01+08:00");
  });
});

describe("newOutTradeNo", () => {
  it("is WX + Beijing date + 16 random characters, within WeChat's rules, and differs each time", () => {
    const r = seededRandom(7);
    const a = newOutTradeNo(r, Date.UTC(2026, 10, 29, 17, 0)); // 01:00 on the 30th in Beijing
    const b = newOutTradeNo(r, Date.UTC(2026, 10, 29, 17, 0));
    expect(a).toMatch(/^WX20261130[0-9A-Za-z]{16}$/);
    expect(a).toMatch(OUT_TRADE_NO_PATTERN);
    expect(a.length).toBeLessThanOrEqual(32);
    expect(a).not.toBe(b);
  });
});

describe("buildDescription", () => {
  it("joins names with quantities above one", () => {
    expect(buildDescription([{ name: "Tea", quantity: 1 }, { name: "Cake", quantity: 3 }])).toBe("Tea, Cake x3");
  });

  it("cuts to 127 characters (not bytes) with an ellipsis", () => {
    const d = buildDescription(Array.from({ length: 20 }, (_, i) => ({ name: `Item number ${i}`, quantity: 1 })));
    expect(Array.from(d).length).toBeLessThanOrEqual(127);
    expect(d.endsWith("…")).toBe(true);
  });

  it("counts CJK and astral characters as one each and never splits a surrogate pair", () => {
    const name = "龙井绿茶🍵".repeat(30); // 150 characters, 300+ bytes
    const d = buildDescription([{ name, quantity: 1 }]);
    expect(Array.from(d).length).toBe(127);
    expect(d.endsWith("…")).toBe(true);
    expect(d).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    const short = buildDescription([{ name: "月饼".repeat(60), quantity: 1 }]); // 120 characters: kept whole
    expect(short).toBe("月饼".repeat(60));
  });
});

describe("requestHash", () => {
  it("depends on the items, not on key order or spacing", async () => {
    const a = await requestHash([{ productId: "p", quantity: 1 }]);
    const b = await requestHash([JSON.parse('{"quantity":1,"productId":"p"}')]);
    const c = await requestHash([{ productId: "p", quantity: 2 }]);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("list cursor", () => {
  it("round-trips and rejects anything else", () => {
    const c = encodeCursor({ createdAt: 1764417600000, id: "ord_ABC" });
    expect(decodeCursor(c)).toEqual({ createdAt: 1764417600000, id: "ord_ABC" });
    for (const bad of ["", "!!", "bm9wZQ", encodeCursor({ createdAt: 1, id: "a b" }), "x".repeat(300)]) {
      expect(decodeCursor(bad)).toBeNull();
    }
  });
});

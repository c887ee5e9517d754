import { describe, expect, it } from "vitest";
import { fenToYuan, formatFen, yuanToFen } from "../../src/lib/money";
import { formatShanghai } from "../../src/lib/shanghai";

describe("money without floats", () => {
  it("fen → yuan text and ¥ display", () => {
    expect([0, 1, 10, 99, 100, 1234, 3600, -5, 123456789].map(fenToYuan)).toEqual(["0.00", "0.01", "0.10", "0.99", "1.00", "12.34", "36.00", "-0.05", "1234567.89"]);
    expect([1234, 0, 123456789, -120000].map(formatFen)).toEqual(["¥12.34", "¥0.00", "¥1,234,567.89", "-¥1,200.00"]);
    expect(() => fenToYuan(1.5)).toThrow(RangeError);
  });

  it("yuan typed by a person → fen, exactly (0.1 + 0.2 never happens)", () => {
    expect(["12.34", "12.3", "12", "0.01", "0.29", "1.10", " 7.5 ", "999999999.99"].map(yuanToFen)).toEqual([1234, 1230, 1200, 1, 29, 110, 750, 99999999999]);
    for (const bad of ["", "1.234", "-1", "+1", "1e3", "1,000", ".5", "5.", "0x10", "１２", "NaN", "1 000", "1234567890"]) expect(yuanToFen(bad), bad).toBeNull();
  });

  it("times in Asia/Shanghai (UTC+8, no daylight saving)", () => {
    expect(formatShanghai(Date.UTC(2026, 10, 29, 16, 30, 5))).toBe("2026-11-30 00:30:05");
    expect(formatShanghai("2026-06-30T23:59:59.999Z")).toBe("2026-07-01 07:59:59");
    expect(formatShanghai(null)).toBe("");
    expect(formatShanghai("nope")).toBe("");
  });
});

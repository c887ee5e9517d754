import { describe, expect, it } from "vitest";
import { dueBillDate, nextPayingCheck, nextRefundCheck, shanghaiDate, shanghaiDayBounds } from "../../../src/reconcile/schedule";

const MIN = 60_000;

describe("reconcile schedule", () => {
  it("backs PAYING checks off 2, 5, 15, 30 min, never past expiry", () => {
    const now = 1_000_000_000_000;
    const far = now + 10 * 3600_000;
    expect(nextPayingCheck(now, 1, far)).toBe(now + 2 * MIN);
    expect(nextPayingCheck(now, 2, far)).toBe(now + 5 * MIN);
    expect(nextPayingCheck(now, 3, far)).toBe(now + 15 * MIN);
    expect(nextPayingCheck(now, 4, far)).toBe(now + 30 * MIN);
    expect(nextPayingCheck(now, 9, far)).toBe(now + 30 * MIN);
    expect(nextPayingCheck(now, 4, now + MIN)).toBe(now + MIN);
  });

  it("slows refund checks as the refund ages", () => {
    const t = 1_000_000_000_000;
    expect(nextRefundCheck(t + MIN, t)).toBe(t + 2 * MIN);
    expect(nextRefundCheck(t + 10 * MIN, t)).toBe(t + 15 * MIN);
    expect(nextRefundCheck(t + 120 * MIN, t)).toBe(t + 135 * MIN);
    expect(nextRefundCheck(t + 48 * 60 * MIN, t)).toBe(t + 48 * 60 * MIN + 60 * MIN);
  });

  it("uses Asia/Shanghai days and checks yesterday's bill from 10:30 there", () => {
    // 2026-11-30 02:29 UTC = 10:29 in Shanghai; 02:30 UTC = 10:30.
    expect(dueBillDate(Date.UTC(2026, 10, 30, 2, 29))).toBeNull();
    expect(dueBillDate(Date.UTC(2026, 10, 30, 2, 30))).toBe("2026-11-29");
    expect(dueBillDate(Date.UTC(2026, 10, 30, 15, 59))).toBe("2026-11-29"); // 23:59 Shanghai
    expect(dueBillDate(Date.UTC(2026, 10, 30, 16, 0))).toBeNull(); // 00:00 on Dec 1 in Shanghai
    expect(shanghaiDate(Date.UTC(2026, 10, 29, 16, 0))).toBe("2026-11-30");
    expect(shanghaiDayBounds("2026-11-29")).toEqual({ start: Date.UTC(2026, 10, 28, 16), end: Date.UTC(2026, 10, 29, 16) });
    expect(shanghaiDayBounds("2026-02-30")).toBeNull();
  });
});

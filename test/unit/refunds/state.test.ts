import { describe, expect, it } from "vitest";
import { REFUND_STATES, REFUND_TRANSITIONS, decideRefund, normaliseRefundStatus } from "../../../src/refunds/state";

describe("refund state machine", () => {
  it("is total: every status × reported status has a decision", () => {
    for (const from of REFUND_STATES) for (const to of REFUND_STATES) expect(REFUND_TRANSITIONS[from][to]).toBeDefined();
  });

  it("moves PROCESSING by what WeChat reports; ABNORMAL raises a flag", () => {
    expect(decideRefund("PROCESSING", "SUCCESS")).toEqual({ kind: "transition", to: "SUCCESS", flags: [] });
    expect(decideRefund("PROCESSING", "CLOSED")).toEqual({ kind: "transition", to: "CLOSED", flags: [] });
    expect(decideRefund("PROCESSING", "ABNORMAL")).toEqual({ kind: "transition", to: "ABNORMAL", flags: ["refund_abnormal"] });
    expect(decideRefund("PROCESSING", "PROCESSING")).toEqual({ kind: "noop" });
  });

  it("lets an ABNORMAL refund be resolved", () => {
    expect(decideRefund("ABNORMAL", "SUCCESS").kind).toBe("transition");
    expect(decideRefund("ABNORMAL", "PROCESSING").kind).toBe("transition");
    expect(decideRefund("ABNORMAL", "ABNORMAL").kind).toBe("noop");
  });

  it("treats SUCCESS as final and a duplicate as a no-op", () => {
    expect(decideRefund("SUCCESS", "SUCCESS").kind).toBe("noop");
    expect(decideRefund("SUCCESS", "CLOSED").kind).toBe("conflict");
    expect(decideRefund("SUCCESS", "PROCESSING").kind).toBe("conflict");
  });

  it("never ignores money: CLOSED then SUCCESS is recorded and flagged", () => {
    expect(decideRefund("CLOSED", "SUCCESS")).toEqual({ kind: "transition", to: "SUCCESS", flags: ["refund_success_after_close"] });
    expect(decideRefund("CLOSED", "CLOSED").kind).toBe("noop");
  });

  it("normalises WeChat's status strings", () => {
    expect(normaliseRefundStatus("SUCCESS")).toBe("SUCCESS");
    expect(normaliseRefundStatus("success")).toBeNull();
    expect(normaliseRefundStatus(undefined)).toBeNull();
  });
});

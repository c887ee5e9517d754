import { describe, expect, it } from "vitest";
import {
  decide,
  EVENT_TYPES,
  type Decision,
  type EventType,
  type OrderEvent,
  type OrderSnapshot,
  type Status,
  STATUSES,
  TRANSITIONS,
} from "../../../src/orders/state";

const AMOUNT = 1000;

function event(type: EventType, refundedTotal = 400): OrderEvent {
  return type === "REFUND_SETTLED" ? { type, refundedTotal } : { type };
}

const T = (to: Status, ...flags: string[]) => ({ kind: "transition", to, flags });
const N = { kind: "noop" };
const R = { kind: "reject" };

/**
 * The expected answer for every status × event (REFUND_SETTLED with 400 of 1000 fen refunded,
 * on an order with nothing refunded yet — other refund totals are tested below).
 */
const EXPECTED: Record<Status, Record<EventType, object>> = {
  CREATED: {
    PREPAY_ISSUED: T("PAYING"),
    PAYMENT_CONFIRMED: T("PAID"),
    CLOSED_AT_WECHAT: T("CLOSED"),
    CANCELLED_LOCALLY: T("CLOSED"),
    EXPIRED: T("CLOSED"),
    REFUND_SETTLED: R,
  },
  PAYING: {
    PREPAY_ISSUED: T("PAYING"),
    PAYMENT_CONFIRMED: T("PAID"),
    CLOSED_AT_WECHAT: T("CLOSED"),
    CANCELLED_LOCALLY: R,
    EXPIRED: T("CLOSED"),
    REFUND_SETTLED: R,
  },
  PAID: {
    PREPAY_ISSUED: R,
    PAYMENT_CONFIRMED: N,
    CLOSED_AT_WECHAT: R,
    CANCELLED_LOCALLY: R,
    EXPIRED: R,
    REFUND_SETTLED: T("PARTIALLY_REFUNDED"),
  },
  PARTIALLY_REFUNDED: {
    PREPAY_ISSUED: R,
    PAYMENT_CONFIRMED: N,
    CLOSED_AT_WECHAT: R,
    CANCELLED_LOCALLY: R,
    EXPIRED: R,
    REFUND_SETTLED: T("PARTIALLY_REFUNDED"),
  },
  REFUNDED: {
    PREPAY_ISSUED: R,
    PAYMENT_CONFIRMED: N,
    CLOSED_AT_WECHAT: R,
    CANCELLED_LOCALLY: R,
    EXPIRED: R,
    // 400 < the 1000 already refunded: stale.
    REFUND_SETTLED: R,
  },
  CLOSED: {
    PREPAY_ISSUED: R,
    PAYMENT_CONFIRMED: T("PAID", "paid_after_close"),
    CLOSED_AT_WECHAT: N,
    CANCELLED_LOCALLY: N,
    EXPIRED: N,
    REFUND_SETTLED: R,
  },
};

function snapshot(status: Status): OrderSnapshot {
  const refundedAmount = status === "REFUNDED" ? AMOUNT : status === "PARTIALLY_REFUNDED" ? 300 : 0;
  return { status, amount: AMOUNT, refundedAmount };
}

function shape(d: Decision): object {
  return d.kind === "reject" ? { kind: "reject" } : d;
}

describe("order state machine: every status × event", () => {
  it("the table covers every status and every event (total)", () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATUSES].sort());
    for (const s of STATUSES) expect(Object.keys(TRANSITIONS[s]).sort()).toEqual([...EVENT_TYPES].sort());
    expect(STATUSES.length * EVENT_TYPES.length).toBe(36);
  });

  for (const status of STATUSES) {
    for (const type of EVENT_TYPES) {
      it(`${status} × ${type} → ${JSON.stringify(EXPECTED[status][type])}`, () => {
        const d = decide(snapshot(status), event(type));
        expect(shape(d)).toEqual(EXPECTED[status][type]);
        if (d.kind === "reject") expect(d.reason.length).toBeGreaterThan(5);
      });
    }
  }

  it("never ignores money: every status answers PAYMENT_CONFIRMED with PAID or 'already paid'", () => {
    for (const status of STATUSES) {
      const d = decide(snapshot(status), { type: "PAYMENT_CONFIRMED" });
      if (d.kind === "transition") expect(d.to).toBe("PAID");
      else expect(d.kind).toBe("noop");
      if (d.kind === "noop") expect(["PAID", "PARTIALLY_REFUNDED", "REFUNDED"]).toContain(status);
    }
  });

  it("only a closed order raises paid_after_close", () => {
    for (const status of STATUSES) {
      const d = decide(snapshot(status), { type: "PAYMENT_CONFIRMED" });
      const flagged = d.kind === "transition" && d.flags.includes("paid_after_close");
      expect(flagged).toBe(status === "CLOSED");
    }
  });
});

describe("REFUND_SETTLED totals", () => {
  const paid: OrderSnapshot = { status: "PAID", amount: AMOUNT, refundedAmount: 0 };
  const partial: OrderSnapshot = { status: "PARTIALLY_REFUNDED", amount: AMOUNT, refundedAmount: 300 };
  const refunded: OrderSnapshot = { status: "REFUNDED", amount: AMOUNT, refundedAmount: AMOUNT };

  it("the full amount → REFUNDED, from PAID or PARTIALLY_REFUNDED", () => {
    expect(decide(paid, { type: "REFUND_SETTLED", refundedTotal: AMOUNT })).toEqual(T("REFUNDED"));
    expect(decide(partial, { type: "REFUND_SETTLED", refundedTotal: AMOUNT })).toEqual(T("REFUNDED"));
  });

  it("a larger partial total moves PARTIALLY_REFUNDED → PARTIALLY_REFUNDED; the same total is a no-op", () => {
    expect(decide(partial, { type: "REFUND_SETTLED", refundedTotal: 500 })).toEqual(T("PARTIALLY_REFUNDED"));
    expect(decide(partial, { type: "REFUND_SETTLED", refundedTotal: 300 })).toEqual(N);
    expect(decide(refunded, { type: "REFUND_SETTLED", refundedTotal: AMOUNT })).toEqual(N);
  });

  it("refuses totals above the amount, below what is recorded, zero, negative or fractional", () => {
    for (const total of [AMOUNT + 1, 200, 0, -5, 1.5, Number.NaN]) {
      expect(decide(partial, { type: "REFUND_SETTLED", refundedTotal: total }).kind).toBe("reject");
    }
  });
});

/**
 * @module orders/state — THE order state machine: one pure, total transition table (SPEC §4).
 *
 * Every change of an order's status, whoever causes it (API, notification, query, cron, admin),
 * is decided here and nowhere else, then written by the one conditional update in
 * `repository.ts`. The table is total: every status × event has an answer —
 *
 * - `transition`: write `to` (which may equal the current status when only data changes, e.g. a
 *   refreshed prepay_id or a larger refunded total), plus any flags for a human;
 * - `noop`: the event is already reflected (a duplicate notification, a second close): nothing
 *   to write, and not an error;
 * - `reject`: the event does not fit the order (e.g. a prepay for a paid order).
 *
 * Money is never ignored: a verified payment always ends in PAID (flagged if the order had been
 * closed). This module imports nothing; it is tested exhaustively (test/unit/orders/state.test.ts).
 */

export const STATUSES = ["CREATED", "PAYING", "PAID", "PARTIALLY_REFUNDED", "REFUNDED", "CLOSED"] as const;
export type Status = (typeof STATUSES)[number];

export const EVENT_TYPES = [
  "PREPAY_ISSUED",
  "PAYMENT_CONFIRMED",
  "CLOSED_AT_WECHAT",
  "CANCELLED_LOCALLY",
  "EXPIRED",
  "REFUND_SETTLED",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * What happened, as the state machine sees it (callers normalise WeChat's vocabulary first):
 *
 * - PREPAY_ISSUED: WeChat answered the JSAPI prepay with a prepay_id (first or repeated).
 * - PAYMENT_CONFIRMED: a verified transaction in trade_state SUCCESS or REFUND whose appid,
 *   mchid, out_trade_no, amount and currency matched the order (mismatches never get here).
 * - CLOSED_AT_WECHAT: WeChat closed the order (our close call answered 204 or ORDER_CLOSED,
 *   or a query answered CLOSED).
 * - CANCELLED_LOCALLY: the user cancelled an order that never reached WeChat (no prepay_id).
 * - EXPIRED: past time_expire, and WeChat confirmed it unpaid (or never had it).
 * - REFUND_SETTLED: the sum of the order's successful refunds is now `refundedTotal` fen.
 */
export type OrderEvent =
  | { type: "PREPAY_ISSUED" }
  | { type: "PAYMENT_CONFIRMED" }
  | { type: "CLOSED_AT_WECHAT" }
  | { type: "CANCELLED_LOCALLY" }
  | { type: "EXPIRED" }
  | { type: "REFUND_SETTLED"; refundedTotal: number };

/** Flags a transition raises for a human (stored in the flags table with the transition). */
export type TransitionFlag = "paid_after_close";

/** What the table needs to know about the order. */
export interface OrderSnapshot {
  status: Status;
  /** Order total, integer fen. */
  amount: number;
  /** Refunded so far, integer fen. */
  refundedAmount: number;
}

export type Decision =
  | { kind: "transition"; to: Status; flags: TransitionFlag[] }
  | { kind: "noop" }
  | { kind: "reject"; reason: string };

type Rule = Decision | ((order: OrderSnapshot, event: OrderEvent) => Decision);

const go = (to: Status, ...flags: TransitionFlag[]): Decision => ({ kind: "transition", to, flags });
const NOOP: Decision = { kind: "noop" };
const no = (reason: string): Decision => ({ kind: "reject", reason });

const PAID_ALREADY = no("the order is already paid");
const CLOSED_ALREADY = no("the order is closed");

/** Refund totals: only ever grow, never above the amount; equal to the amount means REFUNDED. */
const refundSettled: Rule = (order, event) => {
  if (event.type !== "REFUND_SETTLED") return no("not a refund event");
  const total = event.refundedTotal;
  if (!Number.isSafeInteger(total) || total <= 0) return no("refunded total must be a positive integer (fen)");
  if (total > order.amount) return no(`refunded total ${total} exceeds the order amount ${order.amount}`);
  if (total < order.refundedAmount) return no(`refunded total ${total} is below the recorded ${order.refundedAmount} (stale)`);
  const to: Status = total === order.amount ? "REFUNDED" : "PARTIALLY_REFUNDED";
  if (total === order.refundedAmount && to === order.status) return NOOP;
  return go(to);
};

/** status → event type → rule. The single source of truth; `decide` only looks things up. */
export const TRANSITIONS: Readonly<Record<Status, Readonly<Record<EventType, Rule>>>> = {
  CREATED: {
    PREPAY_ISSUED: go("PAYING"),
    PAYMENT_CONFIRMED: go("PAID"),
    CLOSED_AT_WECHAT: go("CLOSED"),
    CANCELLED_LOCALLY: go("CLOSED"),
    EXPIRED: go("CLOSED"),
    REFUND_SETTLED: no("an unpaid order cannot be refunded"),
  },
  PAYING: {
    // A repeated prepay (identical parameters) records its answer; a new prepay_id restarts its 2 h.
    PREPAY_ISSUED: go("PAYING"),
    PAYMENT_CONFIRMED: go("PAID"),
    CLOSED_AT_WECHAT: go("CLOSED"),
    CANCELLED_LOCALLY: no("the order has a prepay_id: close it at WeChat first"),
    EXPIRED: go("CLOSED"),
    REFUND_SETTLED: no("an unpaid order cannot be refunded"),
  },
  PAID: {
    PREPAY_ISSUED: PAID_ALREADY,
    PAYMENT_CONFIRMED: NOOP,
    CLOSED_AT_WECHAT: PAID_ALREADY,
    CANCELLED_LOCALLY: PAID_ALREADY,
    EXPIRED: PAID_ALREADY,
    REFUND_SETTLED: refundSettled,
  },
  PARTIALLY_REFUNDED: {
    PREPAY_ISSUED: PAID_ALREADY,
    PAYMENT_CONFIRMED: NOOP,
    CLOSED_AT_WECHAT: PAID_ALREADY,
    CANCELLED_LOCALLY: PAID_ALREADY,
    EXPIRED: PAID_ALREADY,
    REFUND_SETTLED: refundSettled,
  },
  REFUNDED: {
    PREPAY_ISSUED: PAID_ALREADY,
    // trade_state REFUND is "paid, then refunded": the payment is already recorded.
    PAYMENT_CONFIRMED: NOOP,
    CLOSED_AT_WECHAT: PAID_ALREADY,
    CANCELLED_LOCALLY: PAID_ALREADY,
    EXPIRED: PAID_ALREADY,
    REFUND_SETTLED: refundSettled,
  },
  CLOSED: {
    PREPAY_ISSUED: CLOSED_ALREADY,
    // The user's money was taken after we closed: record it, and ask a human to look.
    PAYMENT_CONFIRMED: go("PAID", "paid_after_close"),
    CLOSED_AT_WECHAT: NOOP,
    CANCELLED_LOCALLY: NOOP,
    EXPIRED: NOOP,
    REFUND_SETTLED: no("a closed order was never paid"),
  },
};

/** The decision for `event` on `order`. Pure and total. */
export function decide(order: OrderSnapshot, event: OrderEvent): Decision {
  const rule = TRANSITIONS[order.status][event.type];
  return typeof rule === "function" ? rule(order, event) : rule;
}

/** Statuses in which the user can still be asked to pay. */
export const isPayable = (status: Status): boolean => status === "CREATED" || status === "PAYING";

/** Statuses in which WeChat has taken the user's money. */
export const isPaid = (status: Status): boolean =>
  status === "PAID" || status === "PARTIALLY_REFUNDED" || status === "REFUNDED";

/**
 * @module orders/apply — the one path from "something happened" to a stored order change:
 * decide (state.ts) → conditional write (repository.ts `writeTransition`) → on a lost race,
 * re-read and decide again. `applyTransaction` puts a WeChat `Transaction` in front of it
 * (normalise + cross-check, flags on mismatch); the notify route, order sync, cancel and the cron
 * job all go through it, so none of them has state logic of its own (STYLE practices 8–10).
 */
import type { Db } from "../context";
import type { ChangeSource } from "../db/schema";
import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/log";
import { newId, type Random } from "../lib/random";
import type { Transaction } from "../wechat/pay/port";
import { interpretTransaction, type Merchant, type Mismatch } from "./normalize";
import {
  type ClaimedFulfilment,
  findOrderById,
  insertFlags,
  type OrderRow,
  type TransitionFlagRow,
  type TransitionPatch,
  type WonCondition,
  wonBy,
  writeTransition,
} from "./repository";
import { decide, isPaid, type OrderEvent, type Status } from "./state";

/** Losing this many races in a row on one order means something is wrong (a hot loop). */
const MAX_ATTEMPTS = 5;

export interface ApplyContext {
  db: Db;
  clock: Clock;
  random: Random;
  /** Our appid and mchid (config), for the cross-check. */
  merchant: Merchant;
  log?: Logger;
}

export interface ApplyOptions {
  /**
   * Statements stored together with this call's effect, exactly once — e.g. the notify route's
   * notification-log row, which must never be stored without the change it records (SPEC §8).
   * Called with `null` when they go with flags or alone (nothing changes): write them plainly.
   * Called with a `WonCondition` when they ride in a transition batch: they must be conditional
   * on it (`INSERT … SELECT … WHERE ${won.sql}`), so a lost race stores none of them and the
   * retry (called again with its own condition) does — or nothing is stored if it fails. D1
   * statements from `d1Of(db).prepare(…)` (repository.ts).
   */
  extra?: (won: WonCondition | null) => D1PreparedStatement[];
  /** Stored on flags raised by this call (the notification being handled). */
  notificationId?: string | null;
  /** Merged into the audit row's detail. */
  detail?: Record<string, unknown>;
  /**
   * If this call makes the order PAID, claim its fulfilment in the same batch (see
   * `TransitionRequest.claimFulfilment`): the result's `fulfilment` is then the caller's to run
   * (`runClaimedFulfilment`). For callers that run the hook right after they answer.
   */
  claimFulfilment?: boolean;
}

export type ApplyResult =
  | { outcome: "applied"; order: OrderRow; from: Status; to: Status; becamePaid: boolean; fulfilment: ClaimedFulfilment | null }
  /** Already reflected (duplicate), or an answer that changes nothing (NOTPAY, USERPAYING…). */
  | { outcome: "unchanged"; order: OrderRow; reason: string }
  /** The state machine refused the event (e.g. a close for a paid order). */
  | { outcome: "rejected"; order: OrderRow; reason: string }
  /** The transaction did not match the order: recorded in flags, order untouched. */
  | { outcome: "flagged"; order: OrderRow; mismatches: Mismatch[] };

export interface EventOptions extends ApplyOptions {
  /** Columns to set with the status (ignored when the decision is noop/reject). */
  patch?: TransitionPatch;
  /** Extra flags to write only if the transition wins. */
  flags?: TransitionFlagRow[];
}

/**
 * Applies one state-machine event to an order: decide → conditional write → re-read on a lost
 * race → decide again. Every status change in the system goes through here.
 */
export async function applyEvent(
  ctx: ApplyContext,
  order: OrderRow,
  event: OrderEvent,
  source: ChangeSource,
  opts: EventOptions = {},
): Promise<Exclude<ApplyResult, { outcome: "flagged" }>> {
  let current = order;
  const extraFor = opts.extra;
  for (let attempt = 1; ; attempt++) {
    const decision = decide(current, event);
    if (decision.kind !== "transition") {
      const extra = extraFor?.(null) ?? [];
      if (extra.length > 0) await insertFlags(ctx.db, current.id, [], ctx.clock.now(), extra);
      return decision.kind === "noop"
        ? { outcome: "unchanged", order: current, reason: `${event.type} already reflected in ${current.status}` }
        : { outcome: "rejected", order: current, reason: decision.reason };
    }
    const now = ctx.clock.now();
    const detail = { event: event.type, ...opts.detail };
    const flags: TransitionFlagRow[] = [
      ...decision.flags.map((kind) => ({ kind, detail: { source, from: current.status, ...detail }, notificationId: opts.notificationId ?? null })),
      ...(opts.flags ?? []),
    ];
    const orderId = current.id;
    const result = await writeTransition(ctx.db, {
      orderId,
      from: current.status,
      expectTransitionId: current.lastTransitionId ?? null,
      to: decision.to,
      patch: opts.patch,
      source,
      detail,
      flags,
      // Conditional on this attempt winning: a lost race stores none of them, the retry sends them again.
      extra: extraFor ? (token) => extraFor(wonBy(orderId, token)) : undefined,
      claimFulfilment: opts.claimFulfilment,
      now,
      token: newId(ctx.random, "trn"),
    });
    if (result.won) {
      // Debug: the order_events row written in the same batch is the durable record of every transition.
      ctx.log?.debug("order transition", { orderId: current.id, from: current.status, to: decision.to, source, event: event.type });
      if (decision.flags.length > 0) ctx.log?.warn("order flagged", { orderId: current.id, flags: decision.flags });
      return {
        outcome: "applied",
        order: result.order,
        from: current.status,
        to: decision.to,
        becamePaid: decision.to === "PAID" && !isPaid(current.status),
        fulfilment: result.fulfilment,
      };
    }
    if (attempt >= MAX_ATTEMPTS) {
      throw new Error(`order ${current.id}: lost ${MAX_ATTEMPTS} transition races in a row (${event.type})`);
    }
    const reread = await findOrderById(ctx.db, current.id);
    if (!reread) throw new Error(`order ${current.id} disappeared during a transition`);
    current = reread;
  }
}

/**
 * Applies what WeChat says about an order (a query answer, or a verified and decrypted
 * TRANSACTION.SUCCESS resource): cross-check appid/mchid/out_trade_no/amount/currency → normalise
 * → SUCCESS/REFUND: PAYMENT_CONFIRMED (→ PAID, fulfilment outbox row in the same batch);
 * CLOSED: CLOSED_AT_WECHAT; NOTPAY and anything else: unchanged. A mismatch never pays: each
 * mismatch is a flag row (kind amount_mismatch, appid_mismatch, …) and the order is untouched.
 *
 *   applyTransaction(ctx: ApplyContext, order: OrderRow, tx: Transaction, source: ChangeSource,
 *                    opts?: { extra?: (won) => D1PreparedStatement[]; notificationId?: string | null;
 *                             detail?: Record<string, unknown> }): Promise<ApplyResult>
 *
 * `opts.extra` is written exactly once, in the same atomic batch as whatever this call writes,
 * and only if that batch commits its effect.
 */
export async function applyTransaction(
  ctx: ApplyContext,
  order: OrderRow,
  tx: Transaction,
  source: ChangeSource,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const seen = interpretTransaction(order, tx, ctx.merchant);
  const now = ctx.clock.now();
  if (!seen.ok) {
    const base = {
      source,
      tradeState: seen.tradeState,
      outTradeNo: typeof tx.out_trade_no === "string" ? tx.out_trade_no : null,
      transactionId: typeof tx.transaction_id === "string" ? tx.transaction_id : null,
    };
    await insertFlags(
      ctx.db,
      order.id,
      seen.mismatches.map((m) => ({ kind: m.kind, detail: { ...base, field: m.field, expected: m.expected, actual: m.actual }, notificationId: opts.notificationId ?? null })),
      now,
      opts.extra?.(null) ?? [],
    );
    ctx.log?.warn("transaction does not match its order; not applied", {
      orderId: order.id,
      source,
      mismatches: seen.mismatches.map((m) => m.kind),
    });
    return { outcome: "flagged", order, mismatches: seen.mismatches };
  }

  const r = seen.result;
  const detail = { tradeState: r.kind === "paid" ? r.tradeState : r.kind, ...opts.detail };
  switch (r.kind) {
    case "paid": {
      // Same out_trade_no, different transaction_id: should never happen; a human must look.
      if (isPaid(order.status) && order.transactionId && order.transactionId !== r.transactionId) {
        await insertFlags(
          ctx.db,
          order.id,
          [{ kind: "transaction_id_conflict", detail: { source, stored: order.transactionId, received: r.transactionId }, notificationId: opts.notificationId ?? null }],
          now,
          opts.extra?.(null) ?? [],
        );
        return { outcome: "unchanged", order, reason: "already paid under another transaction_id (flagged)" };
      }
      return applyEvent(ctx, order, { type: "PAYMENT_CONFIRMED" }, source, {
        ...opts,
        detail: { ...detail, transactionId: r.transactionId, payerTotal: r.payerTotal },
        patch: { transactionId: r.transactionId, paidAt: r.paidAt, nextCheckAt: null, prepayLockUntil: null },
      });
    }
    case "closed":
      return applyEvent(ctx, order, { type: "CLOSED_AT_WECHAT" }, source, {
        ...opts,
        detail,
        patch: { nextCheckAt: null, prepayLockUntil: null },
      });
    case "notpay":
    case "other": {
      const extra = opts.extra?.(null) ?? [];
      if (extra.length > 0) await insertFlags(ctx.db, order.id, [], now, extra);
      return { outcome: "unchanged", order, reason: r.kind === "notpay" ? "NOTPAY" : r.tradeState };
    }
  }
}

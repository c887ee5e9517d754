/**
 * @module refunds/transition — THE refund transition writer. Every refund status change (the
 * admin create call's answer, REFUND.* notifications, queries by the cron job) goes through
 * `transitionRefund`: decide with the pure table in `state.ts`, then one atomic D1 batch.
 *
 * When a refund becomes SUCCESS the order takes it in the same batch: its `refundedAmount`
 * grows by exactly this refund and its status moves through the ORDER state machine
 * (`decide(…, REFUND_SETTLED)` → PARTIALLY_REFUNDED / REFUNDED), written by THE order writer
 * (`orders/repository.writeTransition`, with its audit row). That UPDATE is also guarded on the
 * refunded amount as read and on the refund still being in its old status; the refund UPDATE
 * rides in the same batch, conditional on the order UPDATE having won (its
 * `last_transition_id`). Both happen or neither does, so the amount is added exactly once
 * however many notifications and queries race. Zero rows → re-read, re-decide.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { AppDeps, Db } from "../context";
import { refunds, type ChangeSource } from "../db/schema";
import { newId } from "../lib/random";
import { decide, type Status } from "../orders/state";
import { getOrderRow, getRefund, type RefundRow } from "./repository";
import { decideRefund, type RefundState } from "./state";
import { d1Of, flagIfWon, flagRow, runBatch, toD1Statement, type BatchStatement } from "./statements";
import { writeTransition, type WonCondition } from "../orders/repository";

export interface RefundCtx {
  db: Db;
  deps: Pick<AppDeps, "clock" | "random" | "logger">;
}

/** Data that arrives with a status report (written with the transition, or alone on a no-op). */
export interface RefundPatch {
  refundId?: string | null;
  /** WeChat's success_time (ms); becomes settledAt. */
  successTime?: number | null;
  submittedAt?: number;
  lastQueryAt?: number;
  /** Next time the cron should query (null: never). Default: by the new status. */
  nextCheckAt?: number | null;
  /** Why (e.g. WeChat's error code when a create was refused). */
  detail?: unknown;
  /** Notification id, for flags raised by this change. */
  notificationId?: string | null;
  /**
   * Only while no attempt of the refund has had an unknown outcome (`outcome_unknown_at` NULL,
   * checked in the UPDATE too): for CLOSED on WeChat's refusal of a create call, which proves
   * nothing once an earlier attempt may have been applied (SPEC §8).
   */
  onlyIfOutcomeKnown?: boolean;
}

export type RefundTransitionResult =
  | { kind: "applied"; from: RefundState; refund: RefundRow }
  | { kind: "noop"; refund: RefundRow }
  | { kind: "conflict"; reason: string; refund: RefundRow }
  /** `onlyIfOutcomeKnown` and an attempt's outcome is unknown: nothing written. */
  | { kind: "outcome_unknown"; refund: RefundRow };

/** Re-query cadence for refunds still in flight. */
export const PROCESSING_RECHECK_MS = 60_000;
export const ABNORMAL_RECHECK_MS = 60 * 60_000;

const MAX_ATTEMPTS = 5;

function defaultNextCheck(to: RefundState, now: number): number | null {
  if (to === "PROCESSING") return now + PROCESSING_RECHECK_MS;
  if (to === "ABNORMAL") return now + ABNORMAL_RECHECK_MS;
  return null;
}

/**
 * A caller's statements stored together with the outcome (e.g. the notification-log row):
 * called with `null` when they go with a flag or a data-only write, and with a `WonCondition`
 * when they ride in a transition batch, where they must be conditional on it — a lost race
 * stores none of them and the retry sends them again.
 */
export type RefundExtra = (won: WonCondition | null) => BatchStatement[];

/** True only inside the batch whose refund UPDATE wrote `transitionId`. */
const refundWon = (refundId: string, transitionId: string): WonCondition => ({
  sql: "EXISTS (SELECT 1 FROM refunds WHERE id = ? AND last_transition_id = ?)",
  params: [refundId, transitionId],
});

/**
 * Moves refund `refundId` to what WeChat reported, once. `extra` statements (e.g. the caller's
 * notification row) join the batch that records the outcome, and are stored exactly once, only
 * with it.
 */
export async function transitionRefund(
  ctx: RefundCtx,
  refundId: string,
  reported: RefundState,
  source: ChangeSource,
  patch: RefundPatch = {},
  extra: RefundExtra = () => [],
): Promise<RefundTransitionResult> {
  const { db, deps } = ctx;
  const d1 = d1Of(db);
  for (let attempt = 1; ; attempt++) {
    const refund = await getRefund(db, refundId);
    if (!refund) throw new Error(`refund ${refundId} not found`);
    const now = deps.clock.now();
    if (patch.onlyIfOutcomeKnown && refund.outcomeUnknownAt !== null) return { kind: "outcome_unknown", refund };
    const decision = decideRefund(refund.status, reported);

    if (decision.kind === "noop") {
      await runBatch(db, [...dataOnly(db, refund, patch, now), ...extra(null)]);
      return { kind: "noop", refund: (await getRefund(db, refundId)) ?? refund };
    }
    if (decision.kind === "conflict") {
      const flag = flagRow(d1, {
        orderId: refund.orderId,
        notificationId: patch.notificationId ?? null,
        kind: "refund_conflict",
        detail: { refundId: refund.id, outRefundNo: refund.outRefundNo, ours: refund.status, reported, source, reason: decision.reason },
        at: now,
      });
      await runBatch(db, [flag, ...extra(null)]);
      deps.logger.warn("refund status conflict", { refundId: refund.id, ours: refund.status, reported, source });
      return { kind: "conflict", reason: decision.reason, refund };
    }

    const tid = newId(deps.random, "rtx");
    const to = decision.to;
    const set = {
      status: to,
      lastTransitionId: tid,
      updatedAt: now,
      settledAt: to === "SUCCESS" ? (patch.successTime ?? now) : to === "CLOSED" ? now : refund.settledAt,
      nextCheckAt: patch.nextCheckAt !== undefined ? patch.nextCheckAt : defaultNextCheck(to, now),
      ...(patch.refundId ? { refundId: patch.refundId } : {}),
      ...(patch.submittedAt !== undefined && refund.submittedAt === null ? { submittedAt: patch.submittedAt } : {}),
      ...(patch.lastQueryAt !== undefined ? { lastQueryAt: patch.lastQueryAt } : {}),
      ...(patch.detail !== undefined ? { detail: JSON.stringify(patch.detail) } : {}),
    };
    const flagBase = { orderId: refund.orderId, notificationId: patch.notificationId ?? null, at: now };
    const flagDetail = { refundId: refund.id, outRefundNo: refund.outRefundNo, amount: refund.amount, source };

    const order = to === "SUCCESS" ? await getOrderRow(db, refund.orderId) : null;
    const orderDecision = order
      ? decide(
          { status: order.status as Status, amount: order.amount, refundedAmount: order.refundedAmount },
          { type: "REFUND_SETTLED", refundedTotal: order.refundedAmount + refund.amount },
        )
      : null;

    if (order && orderDecision?.kind === "transition") {
      // The order takes the refund through THE order writer: its UPDATE is also guarded on the
      // refunded amount we read and on the refund still being in its old status, and the
      // refund's own UPDATE rides in the same batch, guarded on the order UPDATE having won.
      const total = order.refundedAmount + refund.amount;
      const written = await writeTransition(db, {
        orderId: order.id,
        from: order.status as Status,
        expectTransitionId: order.lastTransitionId,
        guards: [
          { sql: "refunded_amount = ?", params: [order.refundedAmount] },
          { sql: "EXISTS (SELECT 1 FROM refunds WHERE id = ? AND status = ?)", params: [refund.id, refund.status] },
        ],
        to: orderDecision.to,
        patch: { refundedAmount: total },
        source,
        detail: { event: "REFUND_SETTLED", refundId: refund.id, outRefundNo: refund.outRefundNo, amount: refund.amount, refundedAmount: total },
        flags: decision.flags.map((kind) => ({ kind, detail: flagDetail, notificationId: patch.notificationId ?? null })),
        extra: (token) => [
          // Only if the order UPDATE above won (it wrote `token`).
          toD1Statement(
            d1,
            db
              .update(refunds)
              .set(set)
              .where(
                and(
                  eq(refunds.id, refund.id),
                  eq(refunds.status, refund.status),
                  sql`EXISTS (SELECT 1 FROM orders WHERE id = ${order.id} AND last_transition_id = ${token})`,
                ),
              ),
          ),
          ...extra(refundWon(refund.id, tid)).map((st) => toD1Statement(d1, st)),
        ],
        now,
        token: tid,
      });
      if (written.won) {
        deps.logger.info("refund transition", { refundId: refund.id, from: refund.status, to, source });
        return { kind: "applied", from: refund.status, refund: (await getRefund(db, refundId)) ?? refund };
      }
      if (attempt >= MAX_ATTEMPTS) throw new Error(`refund ${refundId}: lost the transition race ${attempt} times`);
      continue;
    }

    // The refund alone changes (PROCESSING → CLOSED/ABNORMAL, or SUCCESS the order cannot take).
    const statements: BatchStatement[] = [
      db
        .update(refunds)
        .set(set)
        .where(and(eq(refunds.id, refund.id), eq(refunds.status, refund.status), patch.onlyIfOutcomeKnown ? isNull(refunds.outcomeUnknownAt) : undefined)),
      ...decision.flags.map((kind) => flagIfWon(d1, { ...flagBase, kind, detail: flagDetail }, refund.id, tid)),
    ];
    if (to === "SUCCESS") {
      // Money left, but the order cannot take it (e.g. it would exceed the amount): never silent.
      const reason = !order ? "order not found" : orderDecision?.kind === "reject" ? orderDecision.reason : "no order change";
      statements.push(
        flagIfWon(d1, { ...flagBase, kind: "refund_not_applied", detail: { refundId: refund.id, amount: refund.amount, reason } }, refund.id, tid),
      );
    }
    statements.push(...extra(refundWon(refund.id, tid)));
    const results = await runBatch(db, statements);
    const won = (results[0]?.meta.changes ?? 0) > 0;
    if (won) {
      deps.logger.info("refund transition", { refundId: refund.id, from: refund.status, to, source });
      return { kind: "applied", from: refund.status, refund: (await getRefund(db, refundId)) ?? refund };
    }
    if (attempt >= MAX_ATTEMPTS) throw new Error(`refund ${refundId}: lost the transition race ${attempt} times`);
  }
}

/** The patch alone (status unchanged): refund_id, query times, next check. */
function dataOnly(db: Db, refund: RefundRow, patch: RefundPatch, now: number): BatchStatement[] {
  const set: Partial<typeof refunds.$inferInsert> = {};
  if (patch.refundId && patch.refundId !== refund.refundId) set.refundId = patch.refundId;
  if (patch.submittedAt !== undefined && refund.submittedAt === null) set.submittedAt = patch.submittedAt;
  if (patch.lastQueryAt !== undefined) set.lastQueryAt = patch.lastQueryAt;
  if (patch.nextCheckAt !== undefined) set.nextCheckAt = patch.nextCheckAt;
  if (Object.keys(set).length === 0) return [];
  set.updatedAt = now;
  return [db.update(refunds).set(set).where(and(eq(refunds.id, refund.id), eq(refunds.status, refund.status)))];
}

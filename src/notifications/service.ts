/**
 * @module notifications/service — a verified WeChat Pay notification, applied exactly once.
 *
 * Pipeline (WECHATPAY.md G.2): verify the raw body and decrypt (protocol core) → one read (this
 * notification id seen before? the order by out_trade_no — a single D1 round trip) → for
 * TRANSACTION.*: `applyTransaction` (cross-check appid, mchid, out_trade_no, amount, currency;
 * the one state machine) with the notification-log row written in the SAME atomic batch as the
 * transition, and only if that transition wins (a lost race whose retry fails must leave the id
 * unrecorded, so the redelivery applies it: SPEC §8), the audit row and the fulfilment outbox row — inserted already claimed by this
 * request, which runs the hook after its response (fulfilment/runner.ts). Exactly once comes from three
 * guards: the notification id is the log's primary key, the order changes only through
 * `UPDATE … WHERE status = ?`, and the outbox row is inserted only by the batch that won.
 *
 * A verified notification that cannot be applied (unknown out_trade_no, mismatched amount,
 * appid or mchid) is stored and flagged, and still acknowledged: a retry would not change it.
 */
import type { AppDeps, Db } from "../context";
import type { Config } from "../config";
import { decide } from "../orders/state";
import { applyTransaction } from "../orders/apply";
import { type ClaimedFulfilment, d1Of, ORDER, orderByOutTradeNoStatement, type OrderRow, type WonCondition } from "../orders/repository";
import { rowsOf } from "../db/rows";
import { interpretTransaction } from "../orders/normalize";
import type { Transaction, VerifiedNotification } from "../wechat/pay/port";
import { MalformedNotification } from "../wechat/pay/errors";
import { applyRefundNotification } from "../refunds";

export type NotificationOutcome = "applied" | "duplicate" | "flagged" | "recorded" | "ignored";

export interface HandledNotification {
  outcome: NotificationOutcome;
  /** Set when this delivery made the order PAID: its fulfilment should run now. */
  paidOrderId: string | null;
  orderId: string | null;
  /**
   * Set when this delivery made the order PAID and its batch claimed the fulfilment: the paid
   * order and the claim, for `runClaimedFulfilment` after the response.
   */
  fulfilment: { order: OrderRow; claim: ClaimedFulfilment } | null;
}

export interface NotificationContext {
  db: Db;
  deps: AppDeps;
  config: Config;
}

export async function handleNotification(ctx: NotificationContext, n: VerifiedNotification): Promise<HandledNotification> {
  if (n.event_type.startsWith("TRANSACTION.")) return handleTransaction(ctx, n);
  if (n.event_type.startsWith("REFUND.")) return handleRefund(ctx, n);
  // A verified event we do not act on: keep it for the record, acknowledge it.
  const stored = await logNotification(ctx, n, { outcome: "ignored" });
  return { outcome: stored ? "ignored" : "duplicate", paidOrderId: null, orderId: null, fulfilment: null };
}

async function handleTransaction(ctx: NotificationContext, n: VerifiedNotification): Promise<HandledNotification> {
  const tx = n.resource as unknown as Transaction;
  if (typeof tx.out_trade_no !== "string" || tx.out_trade_no === "" || typeof tx.trade_state !== "string") {
    throw new MalformedNotification("transaction resource has no out_trade_no or trade_state");
  }
  const { db } = ctx;
  const d1 = d1Of(db);
  // One round trip: has this notification been handled, and which order does it name?
  const [seen, found] = await d1.batch([seenStatement(d1, n.id), orderByOutTradeNoStatement(db, tx.out_trade_no)]);
  if (rowsOf(seen).length > 0) return { outcome: "duplicate", paidOrderId: null, orderId: null, fulfilment: null };
  const foundRow = rowsOf(found)[0];
  const order = foundRow ? ORDER.decode(foundRow) : undefined;
  const now = ctx.deps.clock.now();
  const merchant = { appid: ctx.config.appid, mchid: ctx.config.mchid };

  if (!order) {
    await d1.batch([
      logStatement(ctx, n, { outcome: "flagged", orderId: null, tx }),
      d1
        .prepare("INSERT INTO flags (order_id, notification_id, kind, detail, at) VALUES (NULL, ?, 'unknown_order', ?, ?)")
        .bind(n.id, JSON.stringify({ outTradeNo: tx.out_trade_no, transactionId: tx.transaction_id ?? null, amount: tx.amount?.total ?? null }), now),
    ]);
    ctx.deps.logger.warn("notification for an unknown order; stored and flagged", { notificationId: n.id, outTradeNo: tx.out_trade_no });
    return { outcome: "flagged", paidOrderId: null, orderId: null, fulfilment: null };
  }

  // The log row's outcome, decided up front from what we read; the transition itself is still
  // decided (and raced) inside applyTransaction. A lost race between two *different*
  // notification ids for one payment logs both as applied; the order changes once either way.
  const interpretation = interpretTransaction(order, tx, merchant);
  const outcome: NotificationOutcome = !interpretation.ok
    ? "flagged"
    : interpretation.result.kind === "paid" && decide(order, { type: "PAYMENT_CONFIRMED" }).kind === "noop"
      ? "duplicate"
      : "applied";

  const result = await applyTransaction(
    { db, clock: ctx.deps.clock, random: ctx.deps.random, merchant, log: ctx.deps.logger },
    order,
    tx,
    "notify",
    {
      // Stored only with the effect: in a transition batch, only if that transition wins.
      extra: (won) => [logStatement(ctx, n, { outcome, orderId: order.id, tx }, won)],
      notificationId: n.id,
      detail: { notificationId: n.id },
      claimFulfilment: true,
    },
  );
  const applied = result.outcome === "applied" ? result : null;
  return {
    outcome: result.outcome === "flagged" ? "flagged" : outcome,
    paidOrderId: applied?.becamePaid ? order.id : null,
    orderId: order.id,
    fulfilment: applied?.becamePaid && applied.fulfilment ? { order: applied.order, claim: applied.fulfilment } : null,
  };
}

async function handleRefund(ctx: NotificationContext, n: VerifiedNotification): Promise<HandledNotification> {
  const r = n.resource;
  if (typeof r.out_refund_no !== "string" || typeof r.refund_status !== "string") {
    throw new MalformedNotification("refund resource has no out_refund_no or refund_status");
  }
  const seen = await seenStatement(d1Of(ctx.db), n.id).first();
  if (seen) return { outcome: "duplicate", paidOrderId: null, orderId: null, fulfilment: null };
  let orderId: string | null = null;
  // The refund state machine decides; the log row goes in the same batch as what it writes.
  const outcome = await applyRefundNotification({ db: ctx.db, deps: ctx.deps, config: ctx.config }, r, {
    notificationId: n.id,
    extra: (o, about, won) => {
      orderId = about.orderId;
      return [logStatement(ctx, n, { outcome: o, orderId: about.orderId, refund: r }, won)];
    },
  });
  return { outcome, paidOrderId: null, orderId, fulfilment: null };
}

/** "Has this notification id been stored?" — the log's primary key. */
const seenStatement = (d1: D1Database, id: string): D1PreparedStatement => d1.prepare("SELECT id FROM notifications WHERE id = ?").bind(id);

const LOG_INSERT =
  "INSERT INTO notifications (id, event_type, order_id, out_trade_no, transaction_id, out_refund_no, outcome, serial, resource, received_at) ";
const LOG_SQL = `${LOG_INSERT}VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`;
/** Built once per guard SQL (there are two: the order writer's and the refund writer's). */
const logIfWonSql = (guard: string) => `${LOG_INSERT}SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ${guard} ON CONFLICT (id) DO NOTHING`;

/**
 * The notification-log row. With `won`, inserted only if the batch's transition wins (a lost
 * race must not mark the notification handled: its retry may still fail, and the redelivery
 * must then apply it).
 */
function logStatement(
  ctx: NotificationContext,
  n: VerifiedNotification,
  row: { outcome: NotificationOutcome; orderId: string | null; tx?: Transaction; refund?: Record<string, unknown> },
  won: WonCondition | null = null,
): D1PreparedStatement {
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  return d1Of(ctx.db)
    .prepare(won ? logIfWonSql(won.sql) : LOG_SQL)
    .bind(
      n.id,
      n.event_type,
      row.orderId,
      str(row.tx?.out_trade_no ?? row.refund?.out_trade_no),
      str(row.tx?.transaction_id ?? row.refund?.transaction_id),
      str(row.refund?.out_refund_no),
      row.outcome,
      n.serial,
      JSON.stringify(n.resource),
      ctx.deps.clock.now(),
      ...(won?.params ?? []),
    );
}

/** Stores a notification alone; true when this call stored it (false: seen before). */
async function logNotification(ctx: NotificationContext, n: VerifiedNotification, row: { outcome: NotificationOutcome }): Promise<boolean> {
  const res = await logStatement(ctx, n, { outcome: row.outcome, orderId: null }).run();
  return (res.meta.changes ?? 0) > 0;
}

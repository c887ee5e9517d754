/**
 * @module fulfilment/runner — runs the fulfilment hook for paid orders, exactly once each.
 *
 * The outbox row (`fulfilments`, status PENDING) is written in the same D1 batch that makes an
 * order PAID. Running it is a claim (one conditional UPDATE: PENDING and due, or a RUNNING
 * lease that expired) → the hook → DONE, or back to PENDING with the error recorded and a
 * back-off. Only the request whose UPDATE claimed the row runs the hook, so concurrent
 * notifications, a sync and the cron job can all call `runFulfilment` safely.
 *
 * The notify route skips the separate claim: the batch that makes the order PAID inserts the
 * row already RUNNING and leased to that request (`claimFulfilment`, orders/repository.ts), and
 * `runClaimedFulfilment` runs the hook after the response. A request that dies in between
 * leaves a lease that expires; the cron job's `runFulfilment` then takes the row over.
 *
 * `attempts` is the claim token: every claim increments it, and the outcome (DONE, or PENDING
 * with the error) is written only `WHERE attempts = <the claim's attempt>`. A runner whose hook
 * outlived its lease, and whose row another runner has claimed since, writes nothing: the
 * current claimant's outcome is the one recorded (SPEC §8).
 */
import { and, asc, eq, inArray, lte, or } from "drizzle-orm";
import { getConfig } from "../config";
import type { AppDeps, Db, FulfilmentResult, PaidOrderForFulfilment } from "../context";
import { shipFromHook } from "../shipping/service";
import { rowsOf } from "../db/rows";
import { fulfilments } from "../db/schema";
import { d1Of, ITEM, type ClaimedFulfilment } from "../orders/repository";
import { FULFILMENT_LEASE_MS } from "./lease";

export { FULFILMENT_LEASE_MS };
export type ShipmentMode = "upload" | "record";
/** Back-off after the n-th failed attempt (the last value repeats). */
const BACKOFF_MS = [60_000, 2 * 60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000];
/** After this many failures a flag asks a human to look. */
const FLAG_AFTER_ATTEMPTS = 5;

/** `superseded`: the hook ran, but the lease had been taken over: the outcome was not recorded. */
export type FulfilmentOutcome = "done" | "failed" | "not_due" | "superseded";

const SQL = {
  /** PENDING and due, or RUNNING with an expired lease → RUNNING, leased, one more attempt. */
  claim:
    "UPDATE fulfilments SET status = 'RUNNING', lease_until = ?, attempts = attempts + 1 " +
    "WHERE order_id = ? AND ((status = 'PENDING' AND next_attempt_at <= ?) OR (status = 'RUNNING' AND lease_until <= ?)) " +
    "RETURNING attempts",
  /** The paid order as the hook sees it (properties, not column names). */
  order: 'SELECT id, out_trade_no AS "outTradeNo", user_id AS "userId", amount, transaction_id AS "transactionId" FROM orders WHERE id = ?',
  items: `SELECT ${ITEM.columns} FROM order_items WHERE order_id = ? ORDER BY line`,
  /** Only by the current claimant (its attempt number). */
  done:
    "UPDATE fulfilments SET status = 'DONE', done_at = ?, lease_until = NULL, last_error = NULL WHERE order_id = ? AND status = 'RUNNING' AND attempts = ?",
  retry:
    "UPDATE fulfilments SET status = 'PENDING', lease_until = NULL, last_error = ?, next_attempt_at = ? " +
    "WHERE order_id = ? AND status = 'RUNNING' AND attempts = ?",
  /** Right after `retry` in its batch: only if that UPDATE changed the row. */
  flag: "INSERT INTO flags (order_id, kind, detail, at) SELECT ?, 'fulfilment_failing', ?, ? WHERE changes() > 0",
} as const;

/**
 * Claims the order's fulfilment if it is due and runs it. One D1 round trip for the claim and,
 * in the same batch, the order and its lines (read for nothing when the claim loses — cheaper
 * than a second round trip when it wins); one more for the outcome.
 */
/**
 * `shipment`: what happens to a shipment the hook returns — uploaded now, or (the cron job) only
 * recorded as due, for the job's shipping task to upload within the run's budget.
 */
export async function runFulfilment(db: Db, deps: AppDeps, env: Env, orderId: string, shipment: ShipmentMode = "upload"): Promise<FulfilmentOutcome> {
  const d1 = d1Of(db);
  const now = deps.clock.now();
  const [claimed, orderRows, items] = await d1.batch<Record<string, unknown>>([
    d1.prepare(SQL.claim).bind(now + FULFILMENT_LEASE_MS, orderId, now, now),
    d1.prepare(SQL.order).bind(orderId),
    d1.prepare(SQL.items).bind(orderId),
  ]);
  const claim = rowsOf(claimed)[0];
  if (!claim) return "not_due";
  const order = rowsOf(orderRows)[0] as Omit<PaidOrderForFulfilment, "items"> | undefined;
  return runHook(db, deps, env, orderId, claim.attempts as number, order ? { ...order, items: ITEM.decodeAll(rowsOf(items)).map(lineOf) } : null, shipment);
}

/**
 * Runs a fulfilment this request already holds: the outbox row it inserted RUNNING in the same
 * batch that made the order PAID (`claimFulfilment`), with the paid order and its lines.
 */
export function runClaimedFulfilment(
  db: Db,
  deps: AppDeps,
  env: Env,
  order: Omit<PaidOrderForFulfilment, "items">,
  claim: ClaimedFulfilment,
): Promise<FulfilmentOutcome> {
  const paid = { id: order.id, outTradeNo: order.outTradeNo, userId: order.userId, amount: order.amount, transactionId: order.transactionId };
  return runHook(db, deps, env, order.id, claim.attempts, { ...paid, items: claim.items.map(lineOf) });
}

const lineOf = (it: { productId: string; name: string; quantity: number; unitPrice: number }) => ({
  productId: it.productId,
  name: it.name,
  quantity: it.quantity,
  unitPrice: it.unitPrice,
});

/**
 * The hook, then DONE — or back to PENDING with the error and a back-off (and a flag after 5
 * failures); either only while this runner's claim (`attempts`) is still the row's.
 */
async function runHook(
  db: Db,
  deps: AppDeps,
  env: Env,
  orderId: string,
  attempts: number,
  order: PaidOrderForFulfilment | null,
  shipment: ShipmentMode = "upload",
): Promise<FulfilmentOutcome> {
  const d1 = d1Of(db);
  const log = deps.logger.with({ orderId, attempt: attempts });
  let result: FulfilmentResult | void;
  try {
    if (!order) throw new Error(`order ${orderId} not found`);
    result = await deps.fulfil(order, { env, logger: log, fetch: deps.fetch });
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const later = deps.clock.now();
    const backoff = BACKOFF_MS[Math.min(attempts - 1, BACKOFF_MS.length - 1)] ?? 3_600_000;
    const writes = [d1.prepare(SQL.retry).bind(message.slice(0, 1000), later + backoff, orderId, attempts)];
    if (attempts === FLAG_AFTER_ATTEMPTS) {
      writes.push(d1.prepare(SQL.flag).bind(orderId, JSON.stringify({ attempts, lastError: message.slice(0, 300) }), later));
    }
    const [retried] = await d1.batch(writes);
    if (!retried?.meta.changes) return superseded(log);
    log.error("fulfilment failed; will retry", { error: message.slice(0, 300), retryInMs: backoff });
    return "failed";
  }
  const done = await d1.prepare(SQL.done).bind(deps.clock.now(), orderId, attempts).run();
  if (!done.meta.changes) return superseded(log);
  if (result?.shipping !== undefined && order) {
    // After DONE: the hook never runs again, and the shipment is recorded once (shipFromHook).
    await shipFromHook({ db, d1, deps, config: getConfig(env), log }, orderId, result.shipping, order.items, order.userId, shipment === "upload").catch((err: unknown) =>
      log.error("shipment from the fulfilment hook failed; the cron retries uploads, or ship it from the admin API", { error: err }),
    );
  }
  return "done";
}

/** Another runner claimed the row after this one's lease ran out: its outcome is the one that counts. */
function superseded(log: AppDeps["logger"]): FulfilmentOutcome {
  log.warn("fulfilment lease was taken over while the hook ran; this run's outcome is not recorded");
  return "superseded";
}

/** Order ids whose fulfilment is due (pending and due, or a lease that expired), oldest first. */
export async function dueFulfilments(db: Db, now: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ orderId: fulfilments.orderId })
    .from(fulfilments)
    .where(
      or(
        and(eq(fulfilments.status, "PENDING"), lte(fulfilments.nextAttemptAt, now)),
        and(eq(fulfilments.status, "RUNNING"), lte(fulfilments.leaseUntil, now)),
      ),
    )
    .orderBy(asc(fulfilments.nextAttemptAt))
    .limit(limit);
  return rows.map((r) => r.orderId);
}

/** Runs every due fulfilment (bounded), one after the other; returns the outcomes. */
export async function retryDueFulfilments(
  db: Db,
  deps: AppDeps,
  env: Env,
  limit: number,
): Promise<{ scanned: number; done: number; failed: number }> {
  const ids = await dueFulfilments(db, deps.clock.now(), limit);
  let done = 0;
  let failed = 0;
  for (const id of ids) {
    const outcome = await runFulfilment(db, deps, env, id);
    if (outcome === "done") done++;
    else if (outcome === "failed") failed++;
  }
  return { scanned: ids.length, done, failed };
}

/** Fulfilment state of some orders (admin views), one query. */
export function fulfilmentsFor(db: Db, orderIds: string[]) {
  if (orderIds.length === 0) return Promise.resolve([]);
  return db.select().from(fulfilments).where(inArray(fulfilments.orderId, orderIds));
}

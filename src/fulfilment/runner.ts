/**
 * @module fulfilment/runner — runs the fulfilment hook for paid orders, exactly once each.
 *
 * The outbox row (`fulfilments`, status PENDING) is written in the same D1 batch that makes an
 * order PAID. Running it is a claim (one conditional UPDATE: PENDING and due, or a RUNNING
 * lease that expired) → the hook → DONE, or back to PENDING with the error recorded and a
 * back-off. Only the request whose UPDATE claimed the row runs the hook, so concurrent
 * notifications, a sync and the cron job can all call `runFulfilment` safely.
 */
import { and, asc, eq, inArray, lte, or, sql } from "drizzle-orm";
import type { AppDeps, Db } from "../context";
import { flags, fulfilments, orderItems, orders } from "../db/schema";

/** How long a claim holds before another runner may take the row over (the hook crashed). */
export const FULFILMENT_LEASE_MS = 5 * 60_000;
/** Back-off after the n-th failed attempt (the last value repeats). */
const BACKOFF_MS = [60_000, 2 * 60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000];
/** After this many failures a flag asks a human to look. */
const FLAG_AFTER_ATTEMPTS = 5;

export type FulfilmentOutcome = "done" | "failed" | "not_due";

export async function runFulfilment(
  db: Db,
  deps: AppDeps,
  env: Env,
  orderId: string,
): Promise<FulfilmentOutcome> {
  const now = deps.clock.now();
  // One D1 round trip: the claim and, in the same batch, the order and its lines (read only
  // for nothing when the claim loses — cheaper than a second round trip when it wins).
  const [claimed, orderRows, items] = await db.batch([
    db
      .update(fulfilments)
      .set({ status: "RUNNING", leaseUntil: now + FULFILMENT_LEASE_MS, attempts: sql`${fulfilments.attempts} + 1` })
      .where(
        and(
          eq(fulfilments.orderId, orderId),
          or(
            and(eq(fulfilments.status, "PENDING"), lte(fulfilments.nextAttemptAt, now)),
            and(eq(fulfilments.status, "RUNNING"), lte(fulfilments.leaseUntil, now)),
          ),
        ),
      )
      .returning({ attempts: fulfilments.attempts }),
    paidOrderQuery(db, orderId),
    paidOrderItemsQuery(db, orderId),
  ]);
  const claim = claimed[0];
  if (!claim) return "not_due";

  const log = deps.logger.with({ orderId, attempt: claim.attempts });
  try {
    const order = orderRows[0];
    if (!order) throw new Error(`order ${orderId} not found`);
    await deps.fulfil({ ...order, items }, { env, logger: log });
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const later = deps.clock.now();
    const backoff = BACKOFF_MS[Math.min(claim.attempts - 1, BACKOFF_MS.length - 1)] ?? 3_600_000;
    const writes = [
      db
        .update(fulfilments)
        .set({ status: "PENDING", leaseUntil: null, lastError: message.slice(0, 1000), nextAttemptAt: later + backoff })
        .where(and(eq(fulfilments.orderId, orderId), eq(fulfilments.status, "RUNNING"))),
    ] as const;
    if (claim.attempts === FLAG_AFTER_ATTEMPTS) {
      await db.batch([
        ...writes,
        db.insert(flags).values({
          orderId,
          kind: "fulfilment_failing",
          detail: JSON.stringify({ attempts: claim.attempts, lastError: message.slice(0, 300) }),
          at: later,
        }),
      ]);
    } else {
      await db.batch(writes);
    }
    log.error("fulfilment failed; will retry", { error: message.slice(0, 300), retryInMs: backoff });
    return "failed";
  }
  await db
    .update(fulfilments)
    .set({ status: "DONE", doneAt: deps.clock.now(), leaseUntil: null, lastError: null })
    .where(and(eq(fulfilments.orderId, orderId), eq(fulfilments.status, "RUNNING")));
  return "done";
}

const paidOrderQuery = (db: Db, orderId: string) =>
  db
    .select({
      id: orders.id,
      outTradeNo: orders.outTradeNo,
      userId: orders.userId,
      amount: orders.amount,
      transactionId: orders.transactionId,
    })
    .from(orders)
    .where(eq(orders.id, orderId));

const paidOrderItemsQuery = (db: Db, orderId: string) =>
  db
    .select({ productId: orderItems.productId, name: orderItems.name, quantity: orderItems.quantity, unitPrice: orderItems.unitPrice })
    .from(orderItems)
    .where(eq(orderItems.orderId, orderId))
    .orderBy(asc(orderItems.line));

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

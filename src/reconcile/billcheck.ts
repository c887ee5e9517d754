/**
 * @module reconcile/billcheck — the daily trade-bill check (WECHATPAY.md I): once a day, the
 * first run after 10:30 Asia/Shanghai checks yesterday's `ALL` bill:
 * `GET /v3/bill/tradebill` → signed download → SHA-1 as announced → parse (bill.ts) → compare
 * with D1 (billcompare.ts) → replace that date's rows in `bill_diffs`, flag each difference, and
 * query the orders WeChat lists as paid but we do not (they converge through `applyTransaction`).
 *
 * State in `kv`: `bill_check.last_date` (the last date fully checked) and
 * `bill_check.retry_at` (set when the bill is not out yet — 400 NO_STATEMENT_EXIST — or the
 * check failed: the cron tries again 10 min later, `POST /admin/reconcile` right away). `bill_check.<date>` keeps the date's summary
 * for `GET /admin/bills/:date`.
 */
import { and, eq, gte, inArray, lt } from "drizzle-orm";
import { billDiffs, kv, orders, refunds } from "../db/schema";
import { toHex } from "../lib/encoding";
import { applyTransaction } from "../orders/apply";
import { findOrderById } from "../orders/repository";
import { d1Of, flagRow, runBatch, type BatchStatement } from "../refunds/statements";
import { ApiError } from "../wechat/pay/errors";
import { parseTradeBill } from "./bill";
import { compareBill, type BillDiff, type LocalOrder, type LocalRefund } from "./billcompare";
import type { JobContext } from "./context";
import type { BillCheckSummary, TaskStats } from "./report";
import { dueBillDate, shanghaiDayBounds } from "./schedule";

export const KV_LAST_DATE = "bill_check.last_date";
export const KV_RETRY_AT = "bill_check.retry_at";
export const kvDateKey = (date: string) => `bill_check.${date}`;
const RETRY_MS = 10 * 60_000;
/** D1 allows 100 bound parameters per statement. */
const IN_CHUNK = 90;

export class BillHashMismatch extends Error {
  readonly code = "bill_hash_mismatch";
  constructor(expected: string, got: string) {
    super(`the downloaded bill's SHA-1 is ${got}, WeChat announced ${expected}: not using it (retrying later)`);
    this.name = "BillHashMismatch";
  }
}

/**
 * Runs the check when due (or for `force` date, e.g. from `POST /admin/reconcile?billDate=`).
 */
export async function runBillCheck(
  ctx: JobContext,
  now: number,
  stats: TaskStats,
  opts: { force?: string | undefined; trigger: "cron" | "admin" },
): Promise<BillCheckSummary> {
  const date = opts.force ?? dueBillDate(now);
  if (date === null) return { status: "not_due", billDate: null };
  if (!opts.force) {
    const state = await readKv(ctx, [KV_LAST_DATE, KV_RETRY_AT]);
    if (state.get(KV_LAST_DATE) === date) return { status: "already_checked", billDate: date };
    // The cron waits between attempts; an operator's POST /admin/reconcile always tries now.
    if (opts.trigger === "cron" && Number(state.get(KV_RETRY_AT) ?? 0) > now) return { status: "waiting", billDate: date };
  }
  stats.scanned++;
  // The retry timer paces the cron's check of the due date only: an operator asking for another
  // date (not out yet, or failing) must not make the cron wait with yesterday's bill.
  const pacesCron = date === dueBillDate(now);
  try {
    const summary = await checkDate(ctx, date);
    if (summary.status === "not_ready" && pacesCron) await writeKv(ctx, [[KV_RETRY_AT, String(now + RETRY_MS)]]);
    else if (summary.diffs && Object.keys(summary.diffs).length > 0) stats.changed++;
    return summary;
  } catch (err) {
    stats.failed++;
    ctx.fail("bill", date, err);
    if (pacesCron) await writeKv(ctx, [[KV_RETRY_AT, String(now + RETRY_MS)]]).catch(() => {});
    return { status: "failed", billDate: date };
  }
}

async function checkDate(ctx: JobContext, date: string): Promise<BillCheckSummary> {
  const day = shanghaiDayBounds(date);
  if (!day) throw new Error(`bill date ${date} is not a date`);
  let link;
  try {
    link = await ctx.pay.port.tradeBill(date, "ALL");
  } catch (err) {
    if (err instanceof ApiError && err.code === "NO_STATEMENT_EXIST") return { status: "not_ready", billDate: date };
    throw err;
  }
  const bytes = await ctx.pay.port.downloadBill(link.download_url);
  if (link.hash_type.toUpperCase() !== "SHA1") throw new Error(`unsupported bill hash_type ${link.hash_type}`);
  const sha1 = toHex(await crypto.subtle.digest("SHA-1", bytes));
  if (sha1 !== link.hash_value.toLowerCase()) throw new BillHashMismatch(link.hash_value, sha1);

  const bill = parseTradeBill(bytes);
  const diffs = compareBill(bill, { ...(await loadLocal(ctx, bill.rows, day)), day });
  await storeDiffs(ctx, date, diffs, { rows: bill.rows.length, consistent: bill.consistent });
  await followUp(ctx, diffs);

  const byKind: Record<string, number> = {};
  for (const d of diffs) byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
  ctx.log.info("bill checked", { billDate: date, rows: bill.rows.length, diffs: diffs.length });
  return { status: "checked", billDate: date, rows: bill.rows.length, diffs: byKind, consistent: bill.consistent };
}

async function loadLocal(
  ctx: JobContext,
  rows: { outTradeNo: string; outRefundNo: string | null }[],
  day: { start: number; end: number },
): Promise<{ orders: LocalOrder[]; refunds: LocalRefund[] }> {
  const orderCols = { id: orders.id, outTradeNo: orders.outTradeNo, status: orders.status, amount: orders.amount, paidAt: orders.paidAt };
  const refundCols = { id: refunds.id, orderId: refunds.orderId, outRefundNo: refunds.outRefundNo, amount: refunds.amount, status: refunds.status, settledAt: refunds.settledAt };
  const tradeNos = [...new Set(rows.map((r) => r.outTradeNo).filter(Boolean))];
  const refundNos = [...new Set(rows.map((r) => r.outRefundNo).filter((x): x is string => !!x))];
  const found: LocalOrder[] = [];
  const foundRefunds: LocalRefund[] = [];
  for (let i = 0; i < tradeNos.length; i += IN_CHUNK) {
    found.push(...(await ctx.db.select(orderCols).from(orders).where(inArray(orders.outTradeNo, tradeNos.slice(i, i + IN_CHUNK)))));
  }
  for (let i = 0; i < refundNos.length; i += IN_CHUNK) {
    foundRefunds.push(...(await ctx.db.select(refundCols).from(refunds).where(inArray(refunds.outRefundNo, refundNos.slice(i, i + IN_CHUNK)))));
  }
  found.push(...(await ctx.db.select(orderCols).from(orders).where(and(gte(orders.paidAt, day.start), lt(orders.paidAt, day.end)))));
  foundRefunds.push(
    ...(await ctx.db.select(refundCols).from(refunds).where(and(eq(refunds.status, "SUCCESS"), gte(refunds.settledAt, day.start), lt(refunds.settledAt, day.end)))),
  );
  const uniq = <T extends { id: string }>(xs: T[]) => [...new Map(xs.map((x) => [x.id, x])).values()];
  return { orders: uniq(found), refunds: uniq(foundRefunds) };
}

async function storeDiffs(ctx: JobContext, date: string, diffs: BillDiff[], meta: { rows: number; consistent: boolean }): Promise<void> {
  const now = ctx.deps.clock.now();
  const d1 = d1Of(ctx.db);
  const statements: BatchStatement[] = [ctx.db.delete(billDiffs).where(eq(billDiffs.billDate, date))];
  for (const d of diffs) {
    statements.push(
      ctx.db.insert(billDiffs).values({ billDate: date, kind: d.kind, outTradeNo: d.outTradeNo, outRefundNo: d.outRefundNo, detail: JSON.stringify(d.detail), createdAt: now }),
      flagRow(d1, { orderId: d.orderId, kind: `bill_${d.kind}`, detail: { billDate: date, outTradeNo: d.outTradeNo, outRefundNo: d.outRefundNo, ...d.detail }, at: now }),
    );
  }
  const summary = JSON.stringify({ billDate: date, checkedAt: new Date(now).toISOString(), rows: meta.rows, consistent: meta.consistent, diffs: diffs.length });
  statements.push(upsertKv(ctx, kvDateKey(date), summary, now), upsertKv(ctx, KV_LAST_DATE, date, now));
  await runBatch(ctx.db, statements);
}

/** Orders WeChat lists as paid that we hold as unpaid: ask WeChat now and apply (bounded). */
async function followUp(ctx: JobContext, diffs: BillDiff[]): Promise<void> {
  const ids = diffs.filter((d) => d.kind === "missing_local" && d.orderId && d.outRefundNo === null).map((d) => d.orderId!);
  for (const id of ids.slice(0, ctx.limits.billFollowUps)) {
    try {
      const order = await findOrderById(ctx.db, id);
      if (!order) continue;
      const tx = await ctx.pay.port.queryByOutTradeNo(order.outTradeNo);
      await applyTransaction(ctx.orders, order, tx, "cron", { detail: { task: "bill" } });
    } catch (err) {
      ctx.fail("bill", id, err);
    }
  }
}

function upsertKv(ctx: JobContext, key: string, value: string, now: number) {
  return ctx.db.insert(kv).values({ key, value, updatedAt: now }).onConflictDoUpdate({ target: kv.key, set: { value, updatedAt: now } });
}

async function readKv(ctx: JobContext, keys: string[]): Promise<Map<string, string>> {
  const rows = await ctx.db.select().from(kv).where(inArray(kv.key, keys));
  return new Map(rows.map((r) => [r.key, r.value]));
}

async function writeKv(ctx: JobContext, entries: [string, string][]): Promise<void> {
  const now = ctx.deps.clock.now();
  await runBatch(ctx.db, entries.map(([k, v]) => upsertKv(ctx, k, v, now)));
}

/** The stored result of one date's check (GET /admin/bills/:date), or null if never checked. */
export async function billCheckOf(ctx: Pick<JobContext, "db">, date: string): Promise<Record<string, unknown> | null> {
  const [row] = await ctx.db.select().from(kv).where(eq(kv.key, kvDateKey(date)));
  return row ? (JSON.parse(row.value) as Record<string, unknown>) : null;
}

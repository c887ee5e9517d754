/**
 * @module reconcile/billcheck — the daily trade-bill check (WECHATPAY.md I; SPEC §8): once a day,
 * the first run after 10:30 Asia/Shanghai checks yesterday's `ALL` bill:
 * `GET /v3/bill/tradebill` → signed download → SHA-1 as announced → parse (bill.ts) → keep our rows
 * (appid and mchid ours; a merchant id shared with an app or an official account brings others,
 * counted as `foreign` and never compared) → compare with D1 (billcompare.ts) → write the date's
 * differences and flags in budget-sized chunks (billstore.ts) → query the orders WeChat lists as
 * paid but we do not (they converge through `applyTransaction`), while the budget allows.
 *
 * A difference set too large for one run's budget continues in the next runs: each run downloads
 * the bill again (2 requests), recomputes the differences and writes the keys after the stored
 * cursor, until the date is done. The summary says `partial` (with `written` of `total`) until then.
 *
 * State in `kv`: `bill_check.last_date` (the last date fully checked), `bill_check.progress` (a
 * check in progress), `bill_check.retry_at` (set when the bill is not out yet — 400
 * NO_STATEMENT_EXIST — or the check failed: the cron tries again 10 min later, `POST
 * /admin/reconcile` right away). `bill_check.<date>` keeps the date's summary for
 * `GET /admin/bills/:date`.
 */
import { and, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import { kv, orders, refunds } from "../db/schema";
import { toHex } from "../lib/encoding";
import { applyTransaction } from "../orders/apply";
import { findOrderById } from "../orders/repository";
import { runBatch } from "../refunds/statements";
import { ApiError } from "../wechat/pay/errors";
import { parseTradeBill } from "./bill";
import { compareBill, splitForeign, type BillDiff, type LocalOrder, type LocalRefund } from "./billcompare";
import { KV_LAST_DATE, KV_PROGRESS, KV_RETRY_AT, keyed, kvDateKey, readKv, storeDiffs, upsertKv, type BillProgress } from "./billstore";
import type { ItemCost } from "./budget";
import type { JobContext } from "./context";
import { PAYING_ORDER_COST } from "./orders";
import type { BillCheckSummary, TaskStats } from "./report";
import { dueBillDate, shanghaiDayBounds } from "./schedule";

export { KV_LAST_DATE, KV_RETRY_AT, kvDateKey } from "./billstore";
const RETRY_MS = 10 * 60_000;
/** Numbers per lookup statement, bound as one JSON array (~35 bytes each: far below D1's 2 MB per value). */
const LOOKUP_CHUNK = 10_000;
/** The bill link, the download, and a certificate download if the link's answer has a new serial. */
const DOWNLOAD_COST: ItemCost = { requests: 3, queries: 4 };
/** Reading the order, then what the PAYING task spends on one. */
const FOLLOW_UP_COST: ItemCost = { requests: PAYING_ORDER_COST.requests, queries: PAYING_ORDER_COST.queries + 1 };

export class BillHashMismatch extends Error {
  readonly code = "bill_hash_mismatch";
  constructor(expected: string, got: string) {
    super(`the downloaded bill's SHA-1 is ${got}, WeChat announced ${expected}: not using it (retrying later)`);
    this.name = "BillHashMismatch";
  }
}

/**
 * Runs the check when due, or continues one in progress (or checks `force` date now, e.g. from
 * `POST /admin/reconcile?billDate=`, starting that date over).
 */
export async function runBillCheck(
  ctx: JobContext,
  now: number,
  stats: TaskStats,
  opts: { force?: string | undefined; trigger: "cron" | "admin" },
): Promise<BillCheckSummary> {
  let date = opts.force ?? null;
  let progress: BillProgress | null = null;
  if (!opts.force) {
    const state = await readKv(ctx, [KV_LAST_DATE, KV_RETRY_AT, KV_PROGRESS]);
    const stored = state.get(KV_PROGRESS);
    progress = stored ? (JSON.parse(stored) as BillProgress) : null;
    date = progress?.date ?? dueBillDate(now);
    if (date === null) return { status: "not_due", billDate: null };
    if (!progress && state.get(KV_LAST_DATE) === date) return { status: "already_checked", billDate: date };
    // The cron waits between attempts; an operator's POST /admin/reconcile always tries now.
    if (opts.trigger === "cron" && Number(state.get(KV_RETRY_AT) ?? 0) > now) return { status: "waiting", billDate: date };
  }
  if (!ctx.budget.canSpend(DOWNLOAD_COST.requests, DOWNLOAD_COST.queries)) {
    ctx.budget.leave("bill", "not_started");
    return { status: "deferred", billDate: date };
  }
  stats.scanned++;
  // The retry timer paces the cron's check of the due date (or of the check it is continuing)
  // only: an operator asking for another date (not out yet, or failing) must not make the cron
  // wait with yesterday's bill.
  const pacesCron = date === dueBillDate(now) || progress !== null;
  try {
    const summary = await checkDate(ctx, date!, progress);
    if (summary.status === "not_ready" && pacesCron) await runBatch(ctx.db, [upsertKv(ctx, KV_RETRY_AT, String(now + RETRY_MS), ctx.deps.clock.now())]);
    else if (summary.diffs && Object.keys(summary.diffs).length > 0) stats.changed++;
    return summary;
  } catch (err) {
    stats.failed++;
    ctx.fail("bill", date, err);
    if (pacesCron) await runBatch(ctx.db, [upsertKv(ctx, KV_RETRY_AT, String(now + RETRY_MS), ctx.deps.clock.now())]).catch(() => {});
    return { status: "failed", billDate: date };
  }
}

async function checkDate(ctx: JobContext, date: string, progress: BillProgress | null): Promise<BillCheckSummary> {
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
  const { ours, foreign } = splitForeign(bill.rows, { appid: ctx.config.appid, mchid: ctx.config.mchid });
  const local = await loadLocal(ctx, ours, day);
  if (!local) {
    ctx.budget.leave("bill", "not_started");
    return { status: "deferred", billDate: date };
  }
  const diffs = keyed(compareBill({ ...bill, rows: ours }, { ...local, day }));
  const byKind: Record<string, number> = {};
  for (const d of diffs) byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
  const summary = { billDate: date, rows: ours.length, foreign, consistent: bill.consistent, diffs: diffs.length };
  const stored = await storeDiffs(ctx, date, diffs, progress, summary);
  const base = { billDate: date, rows: ours.length, foreign, diffs: byKind, consistent: bill.consistent };
  if (!stored.done) {
    ctx.log.info("bill check continues next run", { billDate: date, written: stored.written, total: diffs.length });
    return { status: "partial", ...base, written: stored.written, total: diffs.length };
  }
  await followUp(ctx, diffs);
  ctx.log.info("bill checked", { billDate: date, rows: ours.length, foreign, diffs: diffs.length });
  return { status: "checked", ...base };
}

/** Every order and refund the bill names, and those we hold as settled that day; null if the budget has no room. */
async function loadLocal(
  ctx: JobContext,
  rows: { outTradeNo: string; outRefundNo: string | null }[],
  day: { start: number; end: number },
): Promise<{ orders: LocalOrder[]; refunds: LocalRefund[] } | null> {
  const orderCols = { id: orders.id, outTradeNo: orders.outTradeNo, status: orders.status, amount: orders.amount, paidAt: orders.paidAt };
  const refundCols = { id: refunds.id, orderId: refunds.orderId, outRefundNo: refunds.outRefundNo, amount: refunds.amount, status: refunds.status, settledAt: refunds.settledAt };
  const tradeNos = chunks([...new Set(rows.map((r) => r.outTradeNo).filter(Boolean))]);
  const refundNos = chunks([...new Set(rows.map((r) => r.outRefundNo).filter((x): x is string => !!x))]);
  if (!ctx.budget.canSpend(0, tradeNos.length + refundNos.length + 2)) return null;
  const found: LocalOrder[] = [];
  const foundRefunds: LocalRefund[] = [];
  // One bound JSON array per statement (D1 binds at most 100 values): the unique indexes do the lookups.
  for (const nos of tradeNos) found.push(...(await ctx.db.select(orderCols).from(orders).where(inJson(orders.outTradeNo, nos))));
  for (const nos of refundNos) foundRefunds.push(...(await ctx.db.select(refundCols).from(refunds).where(inJson(refunds.outRefundNo, nos))));
  found.push(...(await ctx.db.select(orderCols).from(orders).where(and(gte(orders.paidAt, day.start), lt(orders.paidAt, day.end)))));
  foundRefunds.push(
    ...(await ctx.db.select(refundCols).from(refunds).where(and(eq(refunds.status, "SUCCESS"), gte(refunds.settledAt, day.start), lt(refunds.settledAt, day.end)))),
  );
  const uniq = <T extends { id: string }>(xs: T[]) => [...new Map(xs.map((x) => [x.id, x])).values()];
  return { orders: uniq(found), refunds: uniq(foundRefunds) };
}

const inJson = (column: AnySQLiteColumn, values: string[]): SQL => sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;

function chunks(values: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < values.length; i += LOOKUP_CHUNK) out.push(values.slice(i, i + LOOKUP_CHUNK));
  return out;
}

/** Orders WeChat lists as paid that we hold as unpaid: ask WeChat now and apply (bounded by the limit and the budget). */
async function followUp(ctx: JobContext, diffs: BillDiff[]): Promise<void> {
  const ids = diffs.filter((d) => d.kind === "missing_local" && d.orderId && d.outRefundNo === null).map((d) => d.orderId!);
  for (const [i, id] of ids.slice(0, ctx.limits.billFollowUps).entries()) {
    if (!ctx.budget.canSpend(FOLLOW_UP_COST.requests, FOLLOW_UP_COST.queries)) {
      // The PAYING and expiry tasks query such orders anyway; the rest stay flagged for a human.
      ctx.budget.leave("bill", Math.min(ids.length, ctx.limits.billFollowUps) - i);
      return;
    }
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

/** The stored result of one date's check (GET /admin/bills/:date), or null if never checked. */
export async function billCheckOf(ctx: Pick<JobContext, "db">, date: string): Promise<Record<string, unknown> | null> {
  const [row] = await ctx.db.select().from(kv).where(eq(kv.key, kvDateKey(date)));
  return row ? (JSON.parse(row.value) as Record<string, unknown>) : null;
}

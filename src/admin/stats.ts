/**
 * @module admin/stats — the money figures of the last N days (Asia/Shanghai calendar days, today
 * included), computed by D1: three `GROUP BY day` aggregates (orders created, orders paid and
 * their amount, refunds settled) plus the open-flag count, the last reconciliation run and the
 * last bill check, all in one batch. Nothing is summed row by row in the Worker; the daily rows
 * are only laid out (and the totals added up from at most 90 of them), in integer fen.
 */
import type { Db } from "../context";
import { d1Of } from "../orders/repository";
import { KV_LAST_DATE, kvDateKey } from "../reconcile/billcheck";
import { DAY_MS, SHANGHAI_OFFSET_MS, shanghaiDate, shanghaiDayBounds } from "../reconcile/schedule";

export const MAX_STATS_DAYS = 90;

export interface DayFigures {
  orders: number;
  paid: number;
  gmvPaid: number;
  refunded: number;
  net: number;
}

export interface Stats {
  days: number;
  /** First and last Asia/Shanghai date covered (YYYY-MM-DD). */
  from: string;
  to: string;
  totals: DayFigures;
  daily: (DayFigures & { date: string })[];
  openFlags: number;
  lastRun: { id: number; trigger: string; startedAt: string; finishedAt: string | null; scanned: number | null; changed: number | null; failed: number | null } | null;
  lastBillCheck: { billDate: string; summary: unknown } | null;
}

/** The Shanghai day number of a time column, in SQL (integer division). */
const dayOf = (col: string) => `(${col} + ${SHANGHAI_OFFSET_MS}) / ${DAY_MS}`;

export async function statsForDays(db: Db, now: number, days: number): Promise<Stats> {
  const to = shanghaiDate(now);
  const from = shanghaiDate(now - (days - 1) * DAY_MS);
  const start = shanghaiDayBounds(from)!.start;
  const end = shanghaiDayBounds(to)!.end;
  const d1 = d1Of(db);
  const [created, paid, refunded, flags, run, lastDate] = await d1.batch<Record<string, unknown>>([
    d1.prepare(`SELECT ${dayOf("created_at")} AS d, COUNT(*) AS n FROM orders WHERE created_at >= ?1 AND created_at < ?2 GROUP BY d`).bind(start, end),
    d1
      .prepare(`SELECT ${dayOf("paid_at")} AS d, COUNT(*) AS n, SUM(amount) AS fen FROM orders WHERE paid_at >= ?1 AND paid_at < ?2 GROUP BY d`)
      .bind(start, end),
    d1
      .prepare(
        `SELECT ${dayOf("settled_at")} AS d, SUM(amount) AS fen FROM refunds WHERE status = 'SUCCESS' AND settled_at >= ?1 AND settled_at < ?2 GROUP BY d`,
      )
      .bind(start, end),
    d1.prepare("SELECT COUNT(*) AS n FROM flags WHERE resolved_at IS NULL"),
    d1.prepare("SELECT id, trigger, started_at, finished_at, report FROM reconcile_runs ORDER BY started_at DESC, id DESC LIMIT 1"),
    // The last date checked and that date's stored summary (its key is kvDateKey(date)).
    d1.prepare("SELECT k.value AS date, s.value AS summary FROM kv k LEFT JOIN kv s ON s.key = ?2 || k.value WHERE k.key = ?1").bind(KV_LAST_DATE, kvDateKey("")),
  ]);
  const byDay = (rows: Record<string, unknown>[] | undefined, col: string) => new Map((rows ?? []).map((r) => [Number(r.d), Number(r[col] ?? 0)]));
  const createdN = byDay(created?.results, "n");
  const paidN = byDay(paid?.results, "n");
  const paidFen = byDay(paid?.results, "fen");
  const refundedFen = byDay(refunded?.results, "fen");

  const firstDay = (start + SHANGHAI_OFFSET_MS) / DAY_MS;
  const daily: Stats["daily"] = [];
  for (let i = 0; i < days; i++) {
    const d = firstDay + i;
    const f: DayFigures = { orders: createdN.get(d) ?? 0, paid: paidN.get(d) ?? 0, gmvPaid: paidFen.get(d) ?? 0, refunded: refundedFen.get(d) ?? 0, net: 0 };
    f.net = f.gmvPaid - f.refunded;
    daily.push({ date: shanghaiDate(d * DAY_MS - SHANGHAI_OFFSET_MS), ...f });
  }
  return {
    days,
    from,
    to,
    totals: sumFigures(daily),
    daily,
    openFlags: Number(flags?.results[0]?.n ?? 0),
    lastRun: runSummary(run?.results[0]),
    lastBillCheck: billSummary(lastDate?.results[0]),
  };
}

/** The figures of several days added up (the overview's today / 7 / 30 days come from one series). */
export function sumFigures(days: readonly DayFigures[]): DayFigures {
  const out: DayFigures = { orders: 0, paid: 0, gmvPaid: 0, refunded: 0, net: 0 };
  for (const d of days) for (const k of ["orders", "paid", "gmvPaid", "refunded", "net"] as const) out[k] += d[k];
  return out;
}

function runSummary(r: Record<string, unknown> | undefined): Stats["lastRun"] {
  if (!r) return null;
  const report = parseJson(r.report) as { scanned?: number; changed?: number; failed?: number } | null;
  const iso = (v: unknown) => (typeof v === "number" ? new Date(v).toISOString() : null);
  return {
    id: Number(r.id),
    trigger: String(r.trigger),
    startedAt: iso(r.started_at)!,
    finishedAt: iso(r.finished_at),
    scanned: report?.scanned ?? null,
    changed: report?.changed ?? null,
    failed: report?.failed ?? null,
  };
}

function billSummary(r: Record<string, unknown> | undefined): Stats["lastBillCheck"] {
  if (!r || typeof r.date !== "string") return null;
  return { billDate: r.date, summary: parseJson(r.summary) };
}

function parseJson(v: unknown): unknown {
  if (typeof v !== "string") return null;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return null;
  }
}

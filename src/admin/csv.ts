/**
 * @module admin/csv — the order list as CSV (SPEC §10 "CSV export of the filter"), for a
 * spreadsheet: UTF-8 with a BOM (so Excel reads Chinese names), money in yuan from integer fen,
 * times in Asia/Shanghai. Bounded: at most MAX_CSV_ROWS orders, read in keyset pages.
 * A cell starting with = + - @ (or a tab/CR) is prefixed with `'` so a spreadsheet never runs
 * it as a formula (CSV injection).
 */
import type { Db } from "../context";
import { fenToYuan } from "../lib/money";
import { formatShanghai } from "../lib/shanghai";
import { orderRowsPage, type OrderFilter } from "./queries";

export const MAX_CSV_ROWS = 10_000;
const PAGE = 500;

export const CSV_COLUMNS = [
  "id",
  "out_trade_no",
  "status",
  "amount_yuan",
  "refunded_yuan",
  "transaction_id",
  "openid",
  "description",
  "created_at_shanghai",
  "paid_at_shanghai",
] as const;

export function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The CSV text and whether the filter matched more orders than it holds. */
export async function ordersCsv(db: Db, filter: OrderFilter): Promise<{ csv: string; truncated: boolean }> {
  const lines = [CSV_COLUMNS.join(",")];
  let cursor: string | undefined;
  let count = 0;
  for (;;) {
    const { rows, nextCursor } = await orderRowsPage(db, filter, Math.min(PAGE, MAX_CSV_ROWS - count), cursor);
    for (const o of rows) {
      lines.push(
        [o.id, o.outTradeNo, o.status, fenToYuan(o.amount), fenToYuan(o.refundedAmount), o.transactionId ?? "", o.openid, o.description, formatShanghai(o.createdAt), formatShanghai(o.paidAt)]
          .map(csvCell)
          .join(","),
      );
    }
    count += rows.length;
    if (!nextCursor) return { csv: `\ufeff${lines.join("\r\n")}\r\n`, truncated: false };
    if (count >= MAX_CSV_ROWS) return { csv: `\ufeff${lines.join("\r\n")}\r\n`, truncated: true };
    cursor = nextCursor;
  }
}

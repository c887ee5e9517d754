/**
 * @module lib/money — integer fen ⇄ yuan text, without floating point anywhere: `1234` ⇄
 * `"12.34"`. What operators type is parsed as a string (at most two decimals), so `0.1 + 0.2`
 * never happens to a refund.
 */

/** `1234` → `"12.34"`, `-5` → `"-0.05"`. */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError(`not an integer number of fen: ${fen}`);
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** `1234` → `"¥12.34"`, with thousands separators: `123456789` → `"¥1,234,567.89"`. */
export function formatFen(fen: number): string {
  const [int, dec] = fenToYuan(fen).split(".") as [string, string];
  const sign = int.startsWith("-") ? "-" : "";
  const digits = sign ? int.slice(1) : int;
  return `${sign}¥${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${dec}`;
}

/** At most 9 integer digits (¥999,999,999.99) and two decimals; no sign, no exponent, no separators. */
const YUAN = /^(\d{1,9})(?:\.(\d{1,2}))?$/;

/** `"12.3"` → `1230`; null for anything that is not a plain non-negative yuan amount. */
export function yuanToFen(text: string): number | null {
  const m = YUAN.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
}

/**
 * @module test/simulator/time — WeChat's time formats: RFC 3339 with +08:00 (F.2, G.1), the bill's
 * `YYYY-MM-DD HH:mm:ss` and `YYYY-MM-DD` dates in Asia/Shanghai (I.1, I.3).
 */
const CST_MS = 8 * 3600_000;

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function cstParts(ms: number) {
  const d = new Date(ms + CST_MS);
  return {
    y: d.getUTCFullYear(),
    mo: pad(d.getUTCMonth() + 1),
    d: pad(d.getUTCDate()),
    h: pad(d.getUTCHours()),
    mi: pad(d.getUTCMinutes()),
    s: pad(d.getUTCSeconds()),
  };
}

/** `2026-11-29T20:00:00+08:00` */
export function rfc3339Cst(ms: number): string {
  const p = cstParts(ms);
  return `${p.y}-${p.mo}-${p.d}T${p.h}:${p.mi}:${p.s}+08:00`;
}

/** `2026-11-29` (the Asia/Shanghai calendar date). */
export function cstDate(ms: number): string {
  const p = cstParts(ms);
  return `${p.y}-${p.mo}-${p.d}`;
}

/** `2026-11-29 20:00:00` (bill cells). */
export function billTime(ms: number): string {
  const p = cstParts(ms);
  return `${p.y}-${p.mo}-${p.d} ${p.h}:${p.mi}:${p.s}`;
}

/** `20261129200000` (used inside generated ids). */
export function compactCst(ms: number): string {
  const p = cstParts(ms);
  return `${p.y}${p.mo}${p.d}${p.h}${p.mi}${p.s}`;
}

/** Midnight (clock ms) starting the Asia/Shanghai day `YYYY-MM-DD`, or null if not a real date. */
export function cstDayStart(date: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const utc = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!);
  if (new Date(utc).toISOString().slice(0, 10) !== date) return null;
  return utc - CST_MS;
}

/**
 * Strict RFC 3339 date-time (`…T…` with `Z` or `±hh:mm`, optional fraction) → ms, or null (D.2:
 * anything else is PARAM_ERROR).
 */
export function parseRfc3339(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, sec] = m;
  if (+mo! < 1 || +mo! > 12 || +d! < 1 || +d! > 31 || +h! > 23 || +mi! > 59 || +sec! > 59) return null;
  const base = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +sec!);
  if (new Date(base).getUTCDate() !== +d!) return null;
  let off = 0;
  if (m[8] !== "Z") {
    if (+m[9]! > 23 || +m[10]! > 59) return null;
    off = (m[8]!.startsWith("-") ? -1 : 1) * (+m[9]! * 60 + +m[10]!) * 60_000;
  }
  const frac = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  return base - off + frac;
}

/**
 * @module lib/shanghai — times as people in China read them: Asia/Shanghai is UTC+8 all year
 * (no daylight saving since 1991), so a fixed offset is exact and needs no time-zone database.
 */
const OFFSET_MS = 8 * 3600_000;

/** `2026-11-29 20:00:05` (Asia/Shanghai) for an epoch-ms or ISO time; "" for null. */
export function formatShanghai(t: number | string | null | undefined): string {
  if (t === null || t === undefined || t === "") return "";
  const ms = typeof t === "number" ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return "";
  return new Date(ms + OFFSET_MS).toISOString().slice(0, 19).replace("T", " ");
}

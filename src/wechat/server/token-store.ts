/**
 * @module wechat/server/token-store — the access token shared by every isolate, in the `kv`
 * table (one row per AppID). The drop is a compare-and-delete in one statement, so it never
 * removes a newer token another isolate stored meanwhile. The row is operational state: no
 * route returns it and nothing logs it.
 */
import type { CachedToken, TokenStore } from "./token";

const SQL = {
  load: "SELECT value FROM kv WHERE key = ?",
  save:
    "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) " +
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  drop: "DELETE FROM kv WHERE key = ? AND json_extract(value, '$.token') = ?",
} as const;

export const tokenKvKey = (appid: string): string => `wechat:access_token:${appid}`;

export function d1TokenStore(d1: D1Database, appid: string, now: () => number): TokenStore {
  const key = tokenKvKey(appid);
  return {
    async load() {
      const row = await d1.prepare(SQL.load).bind(key).first<{ value: string }>();
      if (!row) return null;
      const v = JSON.parse(row.value) as Partial<CachedToken>;
      if (typeof v.token !== "string" || typeof v.expiresAt !== "number" || typeof v.refreshAt !== "number") return null;
      return { token: v.token, expiresAt: v.expiresAt, refreshAt: v.refreshAt };
    },
    async save(t) {
      await d1.prepare(SQL.save).bind(key, JSON.stringify(t), now()).run();
    },
    async drop(token) {
      await d1.prepare(SQL.drop).bind(key, token).run();
    },
  };
}

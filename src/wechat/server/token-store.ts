/**
 * @module wechat/server/token-store — the access token shared by every isolate, in the `kv`
 * table (one row per AppID), sealed like `session_key`: AES-256-GCM with the at-rest key derived
 * from SESSION_SECRET, bound to its row. A copy of the database (an export, a backup, a
 * `wrangler d1 execute` by the wrong person) then holds no token that calls WeChat's server APIs
 * for the merchant. A row that does not open (SESSION_SECRET rotated without
 * SESSION_SECRET_PREVIOUS, or a row from before sealing) reads as absent: the next call fetches
 * the token again in normal mode, which is free and leaves the current token valid (M.1).
 *
 * The drop is a compare-and-delete in one statement on the token's SHA-256 (`id`, stored next
 * to the sealed value), so it never removes a newer token another isolate stored meanwhile.
 * No route returns the row and nothing logs it.
 */
import type { Sealer } from "../../auth/keys";
import { sha256Hex } from "../../lib/encoding";
import type { CachedToken, TokenStore } from "./token";

const SQL = {
  load: "SELECT value FROM kv WHERE key = ?",
  save:
    "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) " +
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  drop: "DELETE FROM kv WHERE key = ? AND json_extract(value, '$.id') = ?",
} as const;

export const tokenKvKey = (appid: string): string => `wechat:access_token:${appid}`;

/** What the row's `value` holds: never the token itself. */
interface StoredToken {
  sealed: string;
  id: string;
  expiresAt: number;
  refreshAt: number;
}

/** The AAD of a sealed token: its row, so a sealed value copied into another row does not open. */
export const tokenAad = (appid: string): string => `${tokenKvKey(appid)}|v1`;

export function d1TokenStore(d1: D1Database, appid: string, now: () => number, sealer: Sealer): TokenStore {
  const key = tokenKvKey(appid);
  return {
    async load() {
      const row = await d1.prepare(SQL.load).bind(key).first<{ value: string }>();
      if (!row) return null;
      const v = JSON.parse(row.value) as Partial<StoredToken>;
      if (typeof v.sealed !== "string" || typeof v.expiresAt !== "number" || typeof v.refreshAt !== "number") return null;
      const token = await sealer.open(v.sealed).catch(() => null);
      return token === null ? null : { token, expiresAt: v.expiresAt, refreshAt: v.refreshAt };
    },
    async save(t: CachedToken) {
      const value: StoredToken = { sealed: await sealer.seal(t.token), id: await sha256Hex(t.token), expiresAt: t.expiresAt, refreshAt: t.refreshAt };
      await d1.prepare(SQL.save).bind(key, JSON.stringify(value), now()).run();
    },
    async drop(token) {
      await d1.prepare(SQL.drop).bind(key, await sha256Hex(token)).run();
    },
  };
}

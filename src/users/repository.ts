/** @module users/repository — one upsert by openid; `session_key` arrives already sealed. */
import type { Db } from "../context";
import { d1Of } from "../orders/repository";

export interface UserRow {
  id: string;
  openid: string;
  unionid: string | null;
  /** Unix seconds; tokens issued before are refused (auth/session.ts). */
  sessionsValidAfter: number | null;
}

/** Fixed SQL (every login runs it; db/rows.ts says why not drizzle here). */
const UPSERT =
  "INSERT INTO users (id, openid, unionid, session_key_enc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) " +
  "ON CONFLICT (openid) DO UPDATE SET session_key_enc = excluded.session_key_enc, " +
  "unionid = coalesce(excluded.unionid, users.unionid), updated_at = excluded.updated_at " +
  "RETURNING id, openid, unionid, sessions_valid_after AS sessionsValidAfter";

/**
 * Inserts the user or refreshes the stored session_key (and unionid when WeChat sends one),
 * in one statement. Returns the stored row: the id is ours and stable across logins.
 */
export async function upsertUser(
  db: Db,
  u: { id: string; openid: string; unionid: string | null; sessionKeyEnc: string; now: number },
): Promise<UserRow> {
  const row = await d1Of(db).prepare(UPSERT).bind(u.id, u.openid, u.unionid, u.sessionKeyEnc, u.now, u.now).first<UserRow>();
  if (!row) throw new Error("user upsert returned no row");
  return row;
}

/** @module users/repository — one upsert by openid; `session_key` arrives already sealed. */
import type { Db } from "../context";
import { users } from "../db/schema";
import { sql } from "drizzle-orm";

export interface UserRow {
  id: string;
  openid: string;
  unionid: string | null;
}

/**
 * Inserts the user or refreshes the stored session_key (and unionid when WeChat sends one),
 * in one statement. Returns the stored row: the id is ours and stable across logins.
 */
export async function upsertUser(
  db: Db,
  u: { id: string; openid: string; unionid: string | null; sessionKeyEnc: string; now: number },
): Promise<UserRow> {
  const [row] = await db
    .insert(users)
    .values({ id: u.id, openid: u.openid, unionid: u.unionid, sessionKeyEnc: u.sessionKeyEnc, createdAt: u.now, updatedAt: u.now })
    .onConflictDoUpdate({
      target: users.openid,
      set: {
        sessionKeyEnc: sql`excluded.session_key_enc`,
        unionid: sql`coalesce(excluded.unionid, ${users.unionid})`,
        updatedAt: sql`excluded.updated_at`,
      },
    })
    .returning({ id: users.id, openid: users.openid, unionid: users.unionid });
  if (!row) throw new Error("user upsert returned no row");
  return row;
}

/**
 * @module admin/flags — the flags inbox (SPEC §10): open or resolved, newest first, and resolving
 * one with a note. Resolving is one conditional UPDATE (`… WHERE resolved_at IS NULL`), so two
 * operators resolving the same flag cannot both win: the second gets 409 `conflict`.
 */
import { and, desc, eq, isNotNull, isNull, lt } from "drizzle-orm";
import type { Db } from "../context";
import { flags } from "../db/schema";
import { AppError } from "../errors";
import { flagView, type FlagView } from "./queries";

export const FLAG_STATUSES = ["open", "resolved"] as const;
export type FlagStatus = (typeof FLAG_STATUSES)[number];
export const MAX_NOTE_CHARS = 500;

export async function listFlags(db: Db, q: { status: FlagStatus; limit: number; cursor?: number | undefined }): Promise<{ flags: FlagView[]; nextCursor: string | null }> {
  const rows = await db
    .select()
    .from(flags)
    .where(and(q.status === "open" ? isNull(flags.resolvedAt) : isNotNull(flags.resolvedAt), q.cursor ? lt(flags.id, q.cursor) : undefined))
    .orderBy(desc(flags.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return { flags: page.map(flagView), nextCursor: rows.length > q.limit && last ? String(last.id) : null };
}

export async function resolveFlag(db: Db, id: number, note: string, now: number): Promise<FlagView> {
  const text = note.trim();
  if (text.length === 0 || text.length > MAX_NOTE_CHARS) throw new AppError("invalid_request", `note: 1–${MAX_NOTE_CHARS} characters saying what was done`);
  const [row] = await db
    .update(flags)
    .set({ resolvedAt: now, resolutionNote: text })
    .where(and(eq(flags.id, id), isNull(flags.resolvedAt)))
    .returning();
  if (row) return flagView(row);
  const [existing] = await db.select({ id: flags.id }).from(flags).where(eq(flags.id, id));
  if (!existing) throw new AppError("not_found", "flag not found");
  throw new AppError("conflict", `flag ${id} is already resolved`);
}

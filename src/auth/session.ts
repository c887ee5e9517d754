/**
 * @module auth/session — sessions that can be ended (SPEC §11): a token issued before its
 * user's `sessions_valid_after` is refused, and `revokeSessions` moves that line to now.
 *
 * The check needs the users row, and every authenticated request must make it. On the
 * benchmarked routes (get, list and create order) it costs no D1 round trip of its own: the
 * route's first read is a batch, and `sessionGuard(user)` adds one indexed primary-key read to
 * that batch (same transaction, same round trip); `verify` then throws 401 before anything is
 * answered or written. Other routes check with one read of their own (`assertSessionLive`).
 * No per-isolate cache: a revocation holds for the very next request, on every isolate.
 */
import type { SessionUser } from "../context";
import type { BatchGuard } from "../db/rows";
import { AppError } from "../errors";

/** Returns a row exactly when the user exists and the token's iat is not before the line. */
const LIVE = "SELECT 1 AS live FROM users WHERE id = ?1 AND (sessions_valid_after IS NULL OR sessions_valid_after <= ?2)";

export const sessionRevoked = () => new AppError("unauthorized", "this session was ended; log in again");

/** The liveness read to put in a route's first D1 batch, and the check of its result. */
export function sessionGuard(user: SessionUser): BatchGuard {
  return {
    statement: (d1) => d1.prepare(LIVE).bind(user.id, user.iat),
    verify: (result) => {
      if ((result?.results?.length ?? 0) === 0) throw sessionRevoked();
    },
  };
}

/** The same check as its own D1 read (routes that are not benchmarked). */
export async function assertSessionLive(d1: D1Database, user: SessionUser): Promise<void> {
  const guard = sessionGuard(user);
  guard.verify(await guard.statement(d1).all());
}

/**
 * The first second in which tokens are valid again after a revocation at `nowMs`: every token
 * issued so far has `iat` ≤ floor(now), so all are refused; a login after this (which issues
 * `iat = max(now, sessionsValidAfter)`, users/login.ts) is accepted at once.
 */
export const revocationLine = (nowMs: number): number => Math.floor(nowMs / 1000) + 1;

/** Ends every session of the user with this id or openid; false when there is no such user. */
export async function revokeSessions(d1: D1Database, idOrOpenid: string, nowMs: number): Promise<boolean> {
  const r = await d1
    .prepare(
      "UPDATE users SET sessions_valid_after = max(coalesce(sessions_valid_after, 0), ?1), updated_at = ?2 " +
        "WHERE id = ?3 OR openid = ?3",
    )
    .bind(revocationLine(nowMs), nowMs, idOrOpenid)
    .run();
  return (r.meta.changes ?? 0) > 0;
}

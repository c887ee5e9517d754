/**
 * @module auth/middleware — the session check of every mini-program route but login and
 * products: a valid token (auth/token.ts: signature, exp, iat rules against the current TTL)
 * whose user has not ended its sessions since (auth/session.ts), or `401 unauthorized`. The
 * reason is logged, never the token.
 *
 * Two forms, same rules: `requireUser` reads the users row itself (one D1 read); the benchmarked
 * routes use `requireUserToken` and put `sessionGuard(c.var.user)` in their first D1 batch
 * instead, so the revocation check costs them no round trip (routes/orders.ts).
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { unixSeconds } from "../lib/clock";
import { sessionKeyring } from "./keys";
import { assertSessionLive } from "./session";
import { InvalidToken, verifyToken } from "./token";

const BEARER = /^Bearer ([A-Za-z0-9_\-.]+)$/;

/** The bearer token of the request, if it has the shape of one of ours. */
export const presentedSessionToken = (c: Context<AppEnv>): string | null => c.req.header("authorization")?.match(BEARER)?.[1] ?? null;

async function authenticate(c: Context<AppEnv>): Promise<void> {
  const token = presentedSessionToken(c);
  if (!token) throw new AppError("unauthorized", "send Authorization: Bearer <token> from POST /v1/auth/login");
  const { config, deps } = c.var;
  const ring = await sessionKeyring(config);
  try {
    const claims = await verifyToken(ring.map((k) => k.tokenKey), token, unixSeconds(deps.clock), config.sessionTtlSeconds);
    c.set("user", { id: claims.sub, openid: claims.oid, iat: claims.iat });
  } catch (err) {
    if (err instanceof InvalidToken) {
      c.var.log.info("session token rejected", { reason: err.reason });
      throw new AppError(
        "unauthorized",
        err.reason === "expired" ? "session expired; log in again" : "invalid session token; log in again",
      );
    }
    throw err;
  }
}

/** Token and revocation, checked here (one D1 read). */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  await authenticate(c);
  await assertSessionLive(c.env.DB, c.var.user);
  await next();
});

/** Token only: the handler MUST fold `sessionGuard(c.var.user)` into its first D1 batch. */
export const requireUserToken = createMiddleware<AppEnv>(async (c, next) => {
  await authenticate(c);
  await next();
});

/**
 * @module auth/middleware — `requireUser` for every mini-program route but login and products:
 * a valid, unexpired session token or `401 unauthorized`. The reason is logged, never the token.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { unixSeconds } from "../lib/clock";
import { sessionKeys } from "./keys";
import { InvalidToken, verifyToken } from "./token";

export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer ([A-Za-z0-9_\-.]+)$/);
  if (!match?.[1]) throw new AppError("unauthorized", "send Authorization: Bearer <token> from POST /v1/auth/login");
  const { tokenKey } = await sessionKeys(c.var.config.sessionSecret);
  try {
    const claims = await verifyToken(tokenKey, match[1], unixSeconds(c.var.deps.clock));
    c.set("user", { id: claims.sub, openid: claims.oid });
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
  await next();
});

/**
 * @module users/login — the login use case: rate limit → jscode2session → upsert → token.
 *
 * A login WeChat answers 40226 (risk control: the user is blocked) also ends the sessions of the
 * user the request's previous token names, if it carries one of ours (SPEC §11). WeChat's 40226
 * answer carries no openid, so that token is the only evidence of who is logging in.
 */
import type { AppDeps, Db } from "../context";
import type { Config } from "../config";
import { sealAtRest, sessionKeyring } from "../auth/keys";
import { revokeSessions } from "../auth/session";
import { InvalidToken, readSignedClaims, signToken } from "../auth/token";
import { AppError } from "../errors";
import { unixSeconds } from "../lib/clock";
import type { Logger } from "../lib/log";
import { enforceRateLimit } from "../lib/ratelimit";
import { newId } from "../lib/random";
import { code2Session } from "../wechat/login/code2session";
import { upsertUser } from "./repository";

export interface LoginResult {
  token: string;
  expiresIn: number;
  user: { id: string; openid: string };
}

export async function login(
  ctx: {
    deps: AppDeps;
    config: Config;
    db: Db;
    d1: D1Database;
    log: Logger;
    /** The client address as rate limits count it (lib/address.ts). */
    clientAddress: string;
    /** The bearer token the request carried, if any (a previous session). */
    previousToken: string | null;
  },
  code: string,
): Promise<LoginResult> {
  const { deps, config } = ctx;
  await enforceRateLimit(ctx.d1, deps.clock, `login:ip:${ctx.clientAddress}`, config.loginRateLimit, "login attempts from this address");

  const ringP = sessionKeyring(config);
  let session;
  try {
    session = await code2Session(deps, {
      apiBase: config.wxApiBase,
      appid: config.appid,
      secret: config.appSecret,
      code,
      ...(deps.upstream?.loginTimeoutMs ? { timeoutMs: deps.upstream.loginTimeoutMs } : {}),
    });
  } catch (err) {
    if (err instanceof AppError && err.code === "user_blocked") await endBlockedSessions(ctx, await ringP);
    throw err;
  }
  await enforceRateLimit(ctx.d1, deps.clock, `login:openid:${session.openid}`, config.loginRateLimit, "login attempts for this user");

  const [keys] = await ringP;
  const now = deps.clock.now();
  const sessionKeyEnc = await sealAtRest(keys!, deps.random, session.sessionKey, session.openid);
  const user = await upsertUser(ctx.db, {
    id: newId(deps.random, "usr"),
    openid: session.openid,
    unionid: session.unionid,
    sessionKeyEnc,
    now,
  });
  // Never before the user's revocation line: a login right after a revocation (same second)
  // must give a token that works.
  const iat = Math.max(unixSeconds(deps.clock), user.sessionsValidAfter ?? 0);
  const token = await signToken(keys!.tokenKey, { sub: user.id, oid: user.openid, iat, exp: iat + config.sessionTtlSeconds });
  return { token, expiresIn: config.sessionTtlSeconds, user: { id: user.id, openid: user.openid } };
}

async function endBlockedSessions(
  ctx: { deps: AppDeps; d1: D1Database; log: Logger; previousToken: string | null },
  ring: { tokenKey: CryptoKey }[],
): Promise<void> {
  if (ctx.previousToken === null) return;
  try {
    // Signature only: an expired token still names the user.
    const claims = await readSignedClaims(ring.map((k) => k.tokenKey), ctx.previousToken);
    const ended = await revokeSessions(ctx.d1, claims.sub, ctx.deps.clock.now());
    ctx.log.warn("login blocked by WeChat (40226); sessions ended", { userId: claims.sub, ended });
  } catch (err) {
    if (!(err instanceof InvalidToken)) throw err;
  }
}

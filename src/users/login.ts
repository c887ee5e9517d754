/**
 * @module users/login — the login use case: rate limit → jscode2session → upsert → token.
 */
import type { AppDeps, Db } from "../context";
import type { Config } from "../config";
import { sealAtRest, sessionKeys } from "../auth/keys";
import { signToken } from "../auth/token";
import { unixSeconds } from "../lib/clock";
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
  ctx: { deps: AppDeps; config: Config; db: Db; d1: D1Database; clientIp: string },
  code: string,
): Promise<LoginResult> {
  const { deps, config } = ctx;
  await enforceRateLimit(ctx.d1, deps.clock, `login:ip:${ctx.clientIp}`, config.loginRateLimit, "login attempts from this address");

  const keysP = sessionKeys(config.sessionSecret);
  const session = await code2Session(deps, {
    apiBase: config.wxApiBase,
    appid: config.appid,
    secret: config.appSecret,
    code,
    ...(deps.upstream?.loginTimeoutMs ? { timeoutMs: deps.upstream.loginTimeoutMs } : {}),
  });
  await enforceRateLimit(ctx.d1, deps.clock, `login:openid:${session.openid}`, config.loginRateLimit, "login attempts for this user");

  const keys = await keysP;
  const now = deps.clock.now();
  const sessionKeyEnc = await sealAtRest(keys, deps.random, session.sessionKey, session.openid);
  const user = await upsertUser(ctx.db, {
    id: newId(deps.random, "usr"),
    openid: session.openid,
    unionid: session.unionid,
    sessionKeyEnc,
    now,
  });
  const iat = unixSeconds(deps.clock);
  const token = await signToken(keys.tokenKey, { sub: user.id, oid: user.openid, iat, exp: iat + config.sessionTtlSeconds });
  return { token, expiresIn: config.sessionTtlSeconds, user: { id: user.id, openid: user.openid } };
}

/**
 * @module users/open-data — the user's legacy open data (wx.getWeRunData, wx.getShareInfo, …;
 * WECHATPAY.md Q): decrypted with the session_key stored sealed at their last login and returned
 * to them, never stored or logged.
 *
 * A failed decryption usually means WeChat encrypted with a newer session_key than ours (any
 * wx.login supersedes it, Q.1), but may be tampered or truncated data. Only WeChat knows which:
 * `wxa/checksession` with our key — 87009 → `401 session_stale` (wx.login, then fetch the data
 * again: it must be encrypted after the new login); current → `400 undecryptable`. That call
 * spends WeChat quota, so it alone is rate-limited per user; a decryption that works costs one
 * D1 read and no WeChat call.
 */
import { openAtRest, sessionKeyring } from "../auth/keys";
import type { Config } from "../config";
import type { AppDeps, SessionUser } from "../context";
import { AppError } from "../errors";
import type { Logger } from "../lib/log";
import { enforceRateLimit } from "../lib/ratelimit";
import { decryptOpenData, OpenDataUndecryptable, OpenDataWatermarkMismatch } from "../wechat/login/open-data";
import { createServerApi } from "../wechat/server/client";
import { WxErrcodeError } from "../wechat/server/errors";
import { checkSessionKey } from "../wechat/server/session";

/** checksession calls per user per minute (only failed decryptions make one). */
export const OPEN_DATA_CHECK_RATE_LIMIT = 10;

const READ = "SELECT openid, session_key_enc AS sessionKeyEnc FROM users WHERE id = ?";

const stale = () =>
  new AppError("session_stale", "the session_key of this login is no longer current: call wx.login, log in again, then fetch the data again");
const undecryptable = (why: string) => new AppError("undecryptable", `encryptedData could not be decrypted: ${why}`);

export async function readOpenData(
  ctx: { deps: AppDeps; config: Config; d1: D1Database; log: Logger },
  user: SessionUser,
  input: { encryptedData: string; iv: string },
): Promise<Record<string, unknown>> {
  const { deps, config } = ctx;
  const row = await ctx.d1.prepare(READ).bind(user.id).first<{ openid: string; sessionKeyEnc: string }>();
  if (!row) throw new AppError("unauthorized", "this session's user no longer exists; log in again");
  let sessionKey: string;
  try {
    sessionKey = await openAtRest(await sessionKeyring(config), row.sessionKeyEnc, row.openid);
  } catch {
    // Sealed under a SESSION_SECRET no longer configured: only a new login re-seals it.
    throw stale();
  }
  try {
    return await decryptOpenData({ sessionKey, encryptedData: input.encryptedData, iv: input.iv, appid: config.appid });
  } catch (err) {
    if (err instanceof OpenDataWatermarkMismatch) {
      // It opened with this user's key, so it is WeChat's data, but for another mini program.
      ctx.log.warn("open data: watermark of another AppID; refused", { userId: user.id });
      throw undecryptable("it was issued to another mini program");
    }
    if (!(err instanceof OpenDataUndecryptable)) throw err;
  }
  await enforceRateLimit(ctx.d1, deps.clock, `opendata:user:${user.id}`, OPEN_DATA_CHECK_RATE_LIMIT, "undecryptable open-data requests for this user");
  let state: "current" | "stale";
  try {
    state = await checkSessionKey(createServerApi({ config, deps, d1: ctx.d1 }), row.openid, sessionKey);
  } catch (err) {
    throw new AppError("upstream_unavailable", "encryptedData could not be decrypted, and WeChat could not say whether this login is still current; retry shortly", {
      cause: err,
      ...(err instanceof WxErrcodeError ? { logFields: { errcode: err.errcode, rid: err.rid } } : {}),
    });
  }
  if (state === "stale") throw stale();
  throw undecryptable("the session is current, so the data or its iv is damaged; fetch it again");
}

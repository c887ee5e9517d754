/**
 * @module users/phone — the buyer's phone number (SPEC §9): rate limit (5 per user per minute:
 * every successful button use costs the merchant money, WECHATPAY.md P) → getuserphonenumber
 * with the user's openid → stored AES-GCM sealed (the session_key key, bound to the openid and
 * purpose) → returned once to its owner. Never logged; admin views only ever see it masked.
 */
import { openAtRest, sealAtRest, sessionKeyring, sessionKeys } from "../auth/keys";
import type { Config } from "../config";
import type { AppDeps, Db, SessionUser } from "../context";
import { AppError, invalidPhoneCode } from "../errors";
import { enforceRateLimit } from "../lib/ratelimit";
import { d1Of } from "../orders/repository";
import { createServerApi } from "../wechat/server/client";
import { WxErrcodeError } from "../wechat/server/errors";
import { getUserPhoneNumber, maskPhone, PhoneWatermarkMismatch, type PhoneNumber } from "../wechat/server/phone";

export const PHONE_RATE_LIMIT = 5;

const SQL = {
  save: "UPDATE users SET phone_enc = ?, updated_at = ? WHERE id = ?",
  read: "SELECT openid, phone_enc AS phoneEnc FROM users WHERE id = ?",
} as const;

/** The sealed value's AAD: the row's openid and the purpose, so a session_key blob never opens as a phone. */
const aadOf = (openid: string) => `${openid}|phone`;

export async function savePhoneNumber(
  ctx: { deps: AppDeps; config: Config; db: Db; d1: D1Database },
  user: SessionUser,
  code: string,
): Promise<{ countryCode: string; purePhoneNumber: string }> {
  const { deps, config } = ctx;
  await enforceRateLimit(ctx.d1, deps.clock, `phone:user:${user.id}`, PHONE_RATE_LIMIT, "phone-number requests for this user");
  let phone: PhoneNumber;
  try {
    phone = await getUserPhoneNumber(createServerApi({ config, deps, d1: ctx.d1 }), config.appid, code, user.openid);
  } catch (err) {
    throw phoneError(err);
  }
  const keys = await sessionKeys(config.sessionSecret);
  const sealed = await sealAtRest(keys, deps.random, JSON.stringify(phone), aadOf(user.openid));
  await d1Of(ctx.db).prepare(SQL.save).bind(sealed, deps.clock.now(), user.id).run();
  return { countryCode: phone.countryCode, purePhoneNumber: phone.purePhoneNumber };
}

function phoneError(err: unknown): AppError {
  if (err instanceof WxErrcodeError) {
    // A code is single-use and spent once WeChat saw it: never retried, the client asks again.
    if (err.errcode === 40029) return invalidPhoneCode("the phone-number code is invalid, expired or used; ask the user to tap the button again");
    if (err.errcode === 45011) return new AppError("rate_limited", "WeChat's phone-number quota for this minute is used up; retry in a minute", { retryAfter: 60 });
  }
  if (err instanceof PhoneWatermarkMismatch) {
    return new AppError("upstream_unavailable", "WeChat returned a phone number for another mini program; nothing was stored", { cause: err });
  }
  return new AppError("upstream_unavailable", "WeChat's phone-number service is unavailable; retry shortly", {
    cause: err,
    ...(err instanceof WxErrcodeError ? { logFields: { errcode: err.errcode, rid: err.rid } } : {}),
  });
}

/** The stored number of a user, or null (none, or it cannot be opened). */
export async function readPhoneNumber(db: Db, config: Config, userId: string): Promise<PhoneNumber | null> {
  const row = await d1Of(db).prepare(SQL.read).bind(userId).first<{ openid: string; phoneEnc: string | null }>();
  if (!row?.phoneEnc) return null;
  try {
    // The whole key ring: a number sealed before a SESSION_SECRET rotation still opens during it.
    return JSON.parse(await openAtRest(await sessionKeyring(config), row.phoneEnc, aadOf(row.openid))) as PhoneNumber;
  } catch {
    return null;
  }
}

/** The masked form admin views show (`138****1234`), or null. */
export async function maskedPhoneOf(db: Db, config: Config, userId: string): Promise<string | null> {
  const p = await readPhoneNumber(db, config, userId);
  return p ? maskPhone(p.purePhoneNumber) : null;
}

/**
 * @module wechat/server/phone — `wxa/business/getuserphonenumber` (WECHATPAY.md P): the
 * getPhoneNumber button's code (not a wx.login code) → the number, checked against our AppID.
 * Pure parsing here; the use case (users/phone.ts) maps outcomes to HTTP.
 */
import type { ServerApi } from "./client";
import { WxUnknownOutcomeError } from "./errors";

export const PHONE_API = "wxa/business/getuserphonenumber";

export interface PhoneNumber {
  /** As a string (documented as one; the official example sends the number 86). */
  countryCode: string;
  purePhoneNumber: string;
  /** Foreign numbers include the country code. */
  phoneNumber: string;
}

export class PhoneWatermarkMismatch extends Error {
  constructor() {
    super("getuserphonenumber: watermark.appid is not this mini program's AppID");
    this.name = "PhoneWatermarkMismatch";
  }
}

/** `phone_info` of an errcode-0 answer; throws on a missing field or another AppID's watermark. */
export function parsePhoneInfo(body: Record<string, unknown>, appid: string): PhoneNumber {
  const info = body.phone_info as Record<string, unknown> | undefined;
  const cc = info?.countryCode;
  const pure = info?.purePhoneNumber;
  const wm = info?.watermark as Record<string, unknown> | undefined;
  if (!info || (typeof cc !== "string" && typeof cc !== "number") || typeof pure !== "string" || !/^\d{4,20}$/.test(pure)) {
    throw new WxUnknownOutcomeError(PHONE_API, "not_json");
  }
  if (!wm || wm.appid !== appid) throw new PhoneWatermarkMismatch();
  return {
    countryCode: String(cc),
    purePhoneNumber: pure,
    phoneNumber: typeof info.phoneNumber === "string" ? info.phoneNumber : pure,
  };
}

/** One exchange; the openid makes WeChat check that the code belongs to this user (P). */
export async function getUserPhoneNumber(api: ServerApi, appid: string, code: string, openid: string): Promise<PhoneNumber> {
  return parsePhoneInfo(await api.call(PHONE_API, { code, openid }), appid);
}

/** `138****1234`: the first 3 and last 4 digits (fewer shown for short numbers); what admin views and SF contacts get. */
export function maskPhone(pure: string): string {
  if (pure.length >= 8) return `${pure.slice(0, 3)}${"*".repeat(pure.length - 7)}${pure.slice(-4)}`;
  return `****${pure.slice(-4)}`;
}

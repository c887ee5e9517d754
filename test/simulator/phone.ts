/**
 * @module test/simulator/phone — `POST /wxa/business/getuserphonenumber` (WECHATPAY.md P) with
 * codes minted by the simulator (what the getPhoneNumber button gives): single use, valid
 * 5 minutes, bound to the user's openid when the request names one (40029 otherwise).
 * 45011 (minute quota) and -1 come from errcode faults on this path.
 */
import type { Hono } from "hono";
import { randomString } from "../../src/lib/random";
import type { SimEnv } from "./auth";
import type { SimContext } from "./context";
import { checkAccessToken } from "./tokens";
import { jsonBody, wxErr, wxOk, type SimPhoneCode } from "./wxstate";

export const PHONE_CODE_TTL_MS = 5 * 60_000;

export function mintPhoneCode(sim: SimContext, user: { openid: string; purePhoneNumber?: string; countryCode?: string }): SimPhoneCode {
  const pure = user.purePhoneNumber ?? `138${randomString(sim.random, 8, "0123456789")}`;
  const cc = user.countryCode ?? "86";
  const code: SimPhoneCode = {
    code: randomString(sim.random, 64, "0123456789abcdef"),
    openid: user.openid,
    purePhoneNumber: pure,
    countryCode: cc,
    phoneNumber: cc === "86" ? pure : `+${cc}${pure}`,
    createdAt: sim.clock.now(),
  };
  sim.state.wx.phoneCodes.set(code.code, code);
  return code;
}

export function registerPhone(app: Hono<SimEnv>, sim: SimContext): void {
  app.post("/wxa/business/getuserphonenumber", async (c) => {
    const denied = checkAccessToken(sim, c.req.raw);
    if (denied) return denied;
    const b = await jsonBody(c.req.raw);
    if (!b) return wxErr(47001, "data format error");
    const entry = typeof b.code === "string" ? sim.state.wx.phoneCodes.get(b.code) : undefined;
    if (!entry || entry.usedAt !== undefined || sim.clock.now() - entry.createdAt > PHONE_CODE_TTL_MS) return wxErr(40029, "invalid code");
    if (b.openid !== undefined && b.openid !== entry.openid) return wxErr(40029, "invalid code, openid mismatch");
    entry.usedAt = sim.clock.now();
    return wxOk({
      phone_info: {
        phoneNumber: entry.phoneNumber,
        purePhoneNumber: entry.purePhoneNumber,
        // Documented as a string, the official example sends a number (P): send the number.
        countryCode: Number(entry.countryCode),
        watermark: { timestamp: Math.floor(entry.createdAt / 1000), appid: sim.opts.appid },
      },
    });
  });
}

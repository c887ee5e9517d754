/**
 * POST /v1/users/me/phone (SPEC §9, WECHATPAY.md P): code → getuserphonenumber with the user's
 * openid → watermark check → stored sealed → {phone}; every documented error; nothing logged.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { maskPhone, parsePhoneInfo, PhoneWatermarkMismatch } from "../../src/wechat/server/phone";
import { maskedPhoneOf, readPhoneNumber } from "../../src/users/phone";
import { APPID, APPSECRET } from "../fixtures/keys";
import { createWorld, forgetAccessToken, type World } from "../support/world";

type Err = { error: { code: string; message: string } };
const PATH = "/v1/users/me/phone";
const phoneCalls = (w: World) => w.sim.stats().calls["POST /wxa/business/getuserphonenumber"] ?? 0;

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(((await res.json()) as Err).error.code).toBe(code);
}

const stored = async (userId: string) =>
  (await env.DB.prepare("SELECT phone_enc FROM users WHERE id = ?").bind(userId).first<{ phone_enc: string | null }>())!.phone_enc;

// Every world is a new WeChat: a token another test stored in D1 would cost one 40001 round.
beforeEach(forgetAccessToken);

describe("POST /v1/users/me/phone", () => {
  it("exchanges the button's code for the number, stores it sealed, logs nothing of it", async () => {
    const w = createWorld();
    const user = await w.login();
    const { code } = w.sim.wx.mintPhoneCode({ openid: user.openid, purePhoneNumber: "13812341234" });
    const res = await w.request("POST", PATH, { json: { code }, token: user.token });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ phone: { countryCode: "86", purePhoneNumber: "13812341234" } });
    const sealed = await stored(user.userId);
    expect(sealed).toBeTruthy();
    expect(sealed).not.toContain("1381234");
    const config = getConfig(w.env);
    const { drizzle } = await import("drizzle-orm/d1");
    expect(await readPhoneNumber(drizzle(env.DB), config, user.userId)).toMatchObject({ purePhoneNumber: "13812341234" });
    const logs = w.logs.join("\n");
    expect(logs).not.toContain("13812341234");
    expect(logs).not.toContain(code);
    expect(logs).not.toContain(APPSECRET);
  });

  it("a foreign number keeps its country code", async () => {
    const w = createWorld();
    const user = await w.login();
    const { code } = w.sim.wx.mintPhoneCode({ openid: user.openid, purePhoneNumber: "91234567", countryCode: "852" });
    const res = await w.request("POST", PATH, { json: { code }, token: user.token });
    expect(await res.json()).toEqual({ phone: { countryCode: "852", purePhoneNumber: "91234567" } });
  });

  it("400 invalid_request: no code, a wrong type, extra fields — nothing asked of WeChat", async () => {
    const w = createWorld();
    const user = await w.login();
    for (const body of [{}, { code: 12 }, { code: "" }, { code: "abc", openid: "o-x" }, { code: "has space" }]) {
      await expectError(await w.request("POST", PATH, { json: body, token: user.token }), 400, "invalid_request");
    }
    expect(phoneCalls(w)).toBe(0);
  });

  it("401 without a session", async () => {
    const w = createWorld();
    await expectError(await w.request("POST", PATH, { json: { code: "abc" } }), 401, "unauthorized");
    expect(phoneCalls(w)).toBe(0);
  });

  it("400 invalid_code (40029): unknown, used, or another user's code — one WeChat call each, never retried", async () => {
    const w = createWorld();
    const alice = await w.login();
    const bob = await w.login();
    await expectError(await w.request("POST", PATH, { json: { code: "nope" }, token: alice.token }), 400, "invalid_code");
    expect(phoneCalls(w)).toBe(1);
    const { code } = w.sim.wx.mintPhoneCode({ openid: bob.openid });
    await expectError(await w.request("POST", PATH, { json: { code }, token: alice.token }), 400, "invalid_code");
    expect(phoneCalls(w)).toBe(2);
    const own = w.sim.wx.mintPhoneCode({ openid: alice.openid });
    expect((await w.request("POST", PATH, { json: { code: own.code }, token: alice.token })).status).toBe(200);
    await expectError(await w.request("POST", PATH, { json: { code: own.code }, token: alice.token }), 400, "invalid_code");
    expect(phoneCalls(w)).toBe(4);
    expect(await stored(bob.userId)).toBeNull();
  });

  it("429: the sixth request of a user within a minute is refused before WeChat; WeChat's 45011 too", async () => {
    const w = createWorld();
    const user = await w.login();
    for (let i = 0; i < 5; i++) {
      const { code } = w.sim.wx.mintPhoneCode({ openid: user.openid });
      expect((await w.request("POST", PATH, { json: { code }, token: user.token })).status).toBe(200);
    }
    const res = await w.request("POST", PATH, { json: { code: "x" }, token: user.token });
    await expectError(res, 429, "rate_limited");
    expect(phoneCalls(w)).toBe(5);
    const other = await w.login();
    w.sim.addFault({ target: "api", path: "/wxa/business/getuserphonenumber", kind: "errcode", errcode: 45011, errmsg: "api minute-quota reach limit" });
    const quota = await w.request("POST", PATH, { json: { code: "x" }, token: other.token });
    await expectError(quota, 429, "rate_limited");
    expect(quota.headers.get("retry-after")).toBe("60");
  });

  it("502: -1, a timeout, or a watermark of another AppID — nothing stored", async () => {
    const w = createWorld();
    const user = await w.login();
    w.sim.addFault({ target: "api", path: "/wxa/business/getuserphonenumber", kind: "errcode", errcode: -1 });
    await expectError(await w.request("POST", PATH, { json: { code: "x" }, token: user.token }), 502, "upstream_unavailable");
    w.sim.addFault({ target: "api", path: "/wxa/business/getuserphonenumber", kind: "timeout", ms: 5_000 });
    await expectError(await w.request("POST", PATH, { json: { code: "x" }, token: user.token }), 502, "upstream_unavailable");
    const simFetch = w.deps.fetch;
    w.deps.fetch = async (input, init) => {
      const res = await simFetch(input, init);
      if (!String(input instanceof Request ? input.url : input).includes("getuserphonenumber")) return res;
      const body = (await res.json()) as { phone_info: { watermark: { appid: string } } };
      body.phone_info.watermark.appid = "wx0000000000000000";
      return Response.json(body);
    };
    const { code } = w.sim.wx.mintPhoneCode({ openid: user.openid });
    await expectError(await w.request("POST", PATH, { json: { code }, token: user.token }), 502, "upstream_unavailable");
    expect(await stored(user.userId)).toBeNull();
  });

  it("a token invalidated mid-run: refreshed and retried once, the code used once", async () => {
    const w = createWorld();
    const user = await w.login();
    const first = w.sim.wx.mintPhoneCode({ openid: user.openid });
    expect((await w.request("POST", PATH, { json: { code: first.code }, token: user.token })).status).toBe(200);
    w.sim.wx.invalidateTokens();
    const { code } = w.sim.wx.mintPhoneCode({ openid: user.openid, purePhoneNumber: "13900001111" });
    const res = await w.request("POST", PATH, { json: { code }, token: user.token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { phone: { purePhoneNumber: string } }).phone.purePhoneNumber).toBe("13900001111");
  });
});

describe("phone helpers", () => {
  it("masks to the first 3 and last 4 digits", () => {
    expect(maskPhone("13812341234")).toBe("138****1234");
    expect(maskPhone("91234567")).toBe("912*4567");
    expect(maskPhone("1234567")).toBe("****4567");
  });

  it("accepts countryCode as a number or a string; refuses another AppID or a missing number", () => {
    const info = (cc: unknown, appid = APPID, pure: unknown = "13800138000") => ({ phone_info: { phoneNumber: "13800138000", purePhoneNumber: pure, countryCode: cc, watermark: { appid, timestamp: 1 } } });
    expect(parsePhoneInfo(info(86), APPID).countryCode).toBe("86");
    expect(parsePhoneInfo(info("86"), APPID).countryCode).toBe("86");
    expect(() => parsePhoneInfo(info(86, "wxother"), APPID)).toThrow(PhoneWatermarkMismatch);
    expect(() => parsePhoneInfo(info(86, APPID, null), APPID)).toThrow();
  });

  it("admin views get the masked number only", async () => {
    const w = createWorld();
    const user = await w.login();
    const { code } = w.sim.wx.mintPhoneCode({ openid: user.openid, purePhoneNumber: "13812341234" });
    await w.request("POST", PATH, { json: { code }, token: user.token });
    const { drizzle } = await import("drizzle-orm/d1");
    expect(await maskedPhoneOf(drizzle(env.DB), getConfig(w.env), user.userId)).toBe("138****1234");
  });

  it("a number stored before a SESSION_SECRET rotation still opens while SESSION_SECRET_PREVIOUS is set", async () => {
    const w = createWorld();
    const user = await w.login();
    const { code } = w.sim.wx.mintPhoneCode({ openid: user.openid, purePhoneNumber: "13912345678" });
    expect((await w.request("POST", PATH, { json: { code }, token: user.token })).status).toBe(200);
    const { drizzle } = await import("drizzle-orm/d1");
    const rotating = getConfig(createWorld({ env: { SESSION_SECRET: "n".repeat(48), SESSION_SECRET_PREVIOUS: getConfig(w.env).sessionSecret } }).env);
    expect(await maskedPhoneOf(drizzle(env.DB), rotating, user.userId)).toBe("139****5678");
    // After the rotation ends, it no longer opens (and reads as none, never as an error).
    const after = getConfig(createWorld({ env: { SESSION_SECRET: "n".repeat(48) } }).env);
    expect(await readPhoneNumber(drizzle(env.DB), after, user.userId)).toBeNull();
  });
});

/**
 * The access token and the server-API client (SPEC §9, WECHATPAY.md M): caching in the isolate
 * and in D1, refresh before the last 300 s, compare-and-drop + one retry on 40001/40014/42001,
 * one shared fetch for concurrent callers, normal mode only, nothing secret in the logs.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { getConfig } from "../../../src/config";
import { createServerApi } from "../../../src/wechat/server/client";
import { WxErrcodeError, WxUnknownOutcomeError } from "../../../src/wechat/server/errors";
import { CHECK_SESSION_API, checkSessionKey } from "../../../src/wechat/server/session";
import { cachedTokenOf, MIN_CACHE_MS } from "../../../src/wechat/server/token";
import { atRestSealer } from "../../../src/auth/keys";
import { cryptoRandom } from "../../../src/lib/random";
import { d1TokenStore, tokenAad, tokenKvKey } from "../../../src/wechat/server/token-store";
import { classifyWxAnswer, ridOf } from "../../../src/wechat/server/transport";
import { APPID, APPSECRET } from "../../fixtures/keys";
import { createWorld, forgetAccessToken, type World } from "../../support/world";

const API = "wxa/sec/order/is_trade_managed";
const BODY = { appid: APPID };


/** The world plus a record of every stable_token request body the Worker sent. */
function setup(): { w: World; api: ReturnType<typeof createServerApi>; tokenBodies: unknown[]; issued: string[] } {
  const tokenBodies: unknown[] = [];
  const issued: string[] = [];
  const w = createWorld();
  const simFetch = w.deps.fetch;
  w.deps.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname !== "/cgi-bin/stable_token") return simFetch(input, init);
    tokenBodies.push(JSON.parse(String(init?.body)));
    const res = await simFetch(input, init);
    const answer = (await res.clone().json()) as { access_token?: string };
    if (answer.access_token) issued.push(answer.access_token);
    return res;
  };
  return { w, api: apiOf(w), tokenBodies, issued };
}

const apiOf = (w: World) => createServerApi({ config: getConfig(w.env), deps: w.deps, d1: w.env.DB });
/** The store as the client builds it (sealed with the world's SESSION_SECRET). */
const storeOf = (w: World, now = () => w.clock.now()) =>
  d1TokenStore(env.DB, APPID, now, atRestSealer(getConfig(w.env), cryptoRandom, tokenAad(APPID)));
const storedRow = async () => (await env.DB.prepare("SELECT value FROM kv WHERE key = ?").bind(tokenKvKey(APPID)).first<{ value: string }>())?.value ?? null;
const calls = (w: World) => w.sim.wx.tokenStats().stableTokenCalls;
const tokenCalls = (w: World, path = `/${API}`) => w.sim.stats().calls[`POST ${path}`] ?? 0;

beforeEach(forgetAccessToken);

describe("access token cache", () => {
  it("fetches once in normal mode, then serves the isolate's copy; another isolate reads D1", async () => {
    const { w, api, tokenBodies } = setup();
    expect(await api.call(API, BODY)).toMatchObject({ errcode: 0, is_trade_managed: true });
    await api.call(API, BODY);
    expect(calls(w)).toBe(1);
    expect(tokenBodies).toEqual([{ grant_type: "client_credential", appid: APPID, secret: APPSECRET, force_refresh: false }]);
    // A second isolate (new deps) shares the token through D1, no second stable_token call.
    const other = createWorld({ sim: {} });
    other.deps.fetch = w.deps.fetch;
    await apiOf(other).call(API, BODY);
    expect(calls(w)).toBe(1);
  });

  it("20 concurrent calls share one stable_token fetch", async () => {
    const { w, api } = setup();
    const results = await Promise.all(Array.from({ length: 20 }, () => api.call(API, BODY)));
    expect(results).toHaveLength(20);
    expect(calls(w)).toBe(1);
  });

  it("refreshes once fewer than 300 s remain, and gets WeChat's next token then", async () => {
    const { w, api } = setup();
    await api.call(API, BODY);
    w.clock.advance(7200_000 - 301_000);
    await api.call(API, BODY);
    expect(calls(w)).toBe(1);
    w.clock.advance(2_000);
    await api.call(API, BODY);
    expect(calls(w)).toBe(2);
    expect(w.sim.wx.tokenStats().issued).toBe(2);
  });

  it("keeps a 300-second token at least 60 s (expires_in is never below 300)", () => {
    const t = cachedTokenOf("x", 300, 1_000);
    expect(t.refreshAt).toBe(1_000 + MIN_CACHE_MS);
    expect(t.expiresAt).toBe(301_000);
    expect(cachedTokenOf("x", 7200, 0).refreshAt).toBe(6900_000);
  });

  it("a stored token that is due for refresh is not used", async () => {
    const { w, api } = setup();
    const store = storeOf(w);
    await store.save({ token: "stale", expiresAt: w.clock.now() + 200_000, refreshAt: w.clock.now() - 1 });
    await api.call(API, BODY);
    expect(calls(w)).toBe(1);
    expect((await store.load())?.token).not.toBe("stale");
  });
});

describe("a token rejected mid-flight", () => {
  for (const [name, reject, errcode] of [
    ["expired (42001)", (w: World) => w.sim.wx.expireTokens(), 42001],
    ["invalidated (40001)", (w: World) => w.sim.wx.invalidateTokens(), 40001],
  ] as const) {
    it(`${name}: dropped, fetched again in normal mode, the call retried once`, async () => {
      const { w, api, tokenBodies } = setup();
      await api.call(API, BODY);
      reject(w);
      expect(await api.call(API, BODY)).toMatchObject({ errcode: 0 });
      expect(calls(w)).toBe(2);
      expect(tokenCalls(w)).toBe(3);
      expect(tokenBodies.every((b) => (b as { force_refresh: unknown }).force_refresh === false)).toBe(true);
      expect(w.sim.wx.tokenStats().forceRefreshCalls).toBe(0);
      expect(w.logs.some((l) => l.includes(`"errcode":${errcode}`))).toBe(true);
    });
  }

  it("40014 is handled like 40001", async () => {
    const { w, api } = setup();
    await api.call(API, BODY);
    w.sim.addFault({ target: "api", path: `/${API}`, kind: "errcode", errcode: 40014, errmsg: "invalid access_token rid: 1" });
    expect(await api.call(API, BODY)).toMatchObject({ errcode: 0 });
    expect(calls(w)).toBe(2);
  });

  it("20 concurrent callers whose token was invalidated: one refetch, every call retried and answered", async () => {
    const { w, api } = setup();
    await api.call(API, BODY);
    w.sim.wx.invalidateTokens();
    const results = await Promise.all(Array.from({ length: 20 }, () => api.call(API, BODY)));
    expect(results.every((r) => r.errcode === 0)).toBe(true);
    expect(calls(w)).toBe(2);
  });

  it("a second rejection is thrown, never looped on", async () => {
    const { w, api } = setup();
    w.sim.addFault({ target: "api", path: `/${API}`, kind: "errcode", errcode: 40001, count: 5 });
    await expect(api.call(API, BODY)).rejects.toMatchObject({ errcode: 40001 });
    expect(tokenCalls(w)).toBe(2);
  });

  it("compare-and-drop: a late failure of the old token keeps the new one (isolate and D1)", async () => {
    const { w, api } = setup();
    await api.call(API, BODY);
    const old = (await storeOf(w, () => 0).load())!.token;
    w.sim.wx.invalidateTokens();
    await api.call(API, BODY);
    const fresh = (await storeOf(w, () => 0).load())!.token;
    expect(fresh).not.toBe(old);
    await storeOf(w, () => 0).drop(old);
    expect((await storeOf(w, () => 0).load())!.token).toBe(fresh);
    await api.call(API, BODY);
    expect(calls(w)).toBe(2);
  });

  it("other errcodes (48001, -1) are not token errors: no refetch", async () => {
    const { w, api } = setup();
    await api.call(API, BODY);
    w.sim.addFault({ target: "api", path: `/${API}`, kind: "errcode", errcode: 48001 });
    await expect(api.call(API, BODY)).rejects.toBeInstanceOf(WxErrcodeError);
    w.sim.addFault({ target: "api", path: `/${API}`, kind: "errcode", errcode: -1 });
    await expect(api.call(API, BODY)).rejects.toMatchObject({ errcode: -1 });
    expect(calls(w)).toBe(1);
  });

  it("a wrong AppSecret at stable_token is an errcode error naming the API, not the secret", async () => {
    const w = createWorld({ env: { WX_APPSECRET: "wrong-secret" } });
    const err = await apiOf(w).call(API, BODY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WxErrcodeError);
    expect((err as WxErrcodeError).errcode).toBe(40125);
    expect((err as Error).message).toContain("cgi-bin/stable_token");
    expect((err as Error).message).not.toContain("wrong-secret");
  });
});

describe("stored sealed", () => {
  it("the D1 row holds no token: sealed to its row, compare-and-drop by the token's hash", async () => {
    const { w, api, issued } = setup();
    await api.call(API, BODY);
    const token = issued[0]!;
    const row = (await storedRow())!;
    expect(row).not.toContain(token);
    expect(row).not.toContain(token.slice(10, 30));
    expect((await storeOf(w).load())!.token).toBe(token);
    // Copied into another AppID's row, it does not open.
    const other = d1TokenStore(env.DB, "wx0000000000000000", () => 0, atRestSealer(getConfig(w.env), cryptoRandom, tokenAad("wx0000000000000000")));
    await env.DB.prepare("INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, ?, 0)").bind(tokenKvKey("wx0000000000000000"), row).run();
    expect(await other.load()).toBeNull();
    await storeOf(w).drop("some-other-token");
    expect(await storedRow()).toBe(row);
    await storeOf(w).drop(token);
    expect(await storedRow()).toBeNull();
  });

  it("a row sealed under another SESSION_SECRET (rotated without _PREVIOUS) or stored in plaintext reads as absent: fetched again, normal mode", async () => {
    const { w, api, tokenBodies } = setup();
    const rotated = createWorld({ env: { SESSION_SECRET: "r".repeat(48) } });
    await storeOf(rotated).save({ token: "sealed-with-another-secret", expiresAt: w.clock.now() + 7_000_000, refreshAt: w.clock.now() + 6_000_000 });
    await api.call(API, BODY);
    expect(calls(w)).toBe(1);
    await forgetAccessToken();
    const later = setup(); // a new isolate: nothing cached in memory
    await env.DB.prepare("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, 0)")
      .bind(tokenKvKey(APPID), JSON.stringify({ token: "plain", expiresAt: w.clock.now() + 7_000_000, refreshAt: w.clock.now() + 6_000_000 }))
      .run();
    await later.api.call(API, BODY);
    expect(calls(later.w)).toBe(1);
    expect([...tokenBodies, ...later.tokenBodies].map((b) => (b as { force_refresh: boolean }).force_refresh)).toEqual([false, false]);
  });

  it("during a rotation (SESSION_SECRET_PREVIOUS) the stored token still opens", async () => {
    const { w, issued } = setup();
    await apiOf(w).call(API, BODY);
    const old = getConfig(w.env).sessionSecret;
    const next = createWorld({ env: { SESSION_SECRET: "n".repeat(48), SESSION_SECRET_PREVIOUS: old } });
    expect((await storeOf(next).load())?.token).toBe(issued[0]);
  });
});

describe("the GET form (wxa/checksession)", () => {
  const getCalls = (w: World) => w.sim.stats().calls[`GET /${CHECK_SESSION_API}`] ?? 0;
  /** A user who logged in at WeChat; returns their openid and session_key. */
  async function wxUser(w: World) {
    const { code, openid } = w.sim.mintCode();
    const res = await w.sim.fetch(`https://api.weixin.qq.com/sns/jscode2session?appid=${APPID}&secret=${APPSECRET}&js_code=${code}&grant_type=authorization_code`);
    return { openid, sessionKey: ((await res.json()) as { session_key: string }).session_key };
  }

  it("sends the token and the parameters in the query, no body; current vs stale (87009)", async () => {
    const { w, api } = setup();
    const seen: { url: string; method: string; body: unknown }[] = [];
    const inner = w.deps.fetch;
    w.deps.fetch = async (input, init) => {
      seen.push({ url: String(input), method: init?.method ?? "GET", body: init?.body });
      return inner(input, init);
    };
    const u = await wxUser(w);
    expect(await checkSessionKey(api, u.openid, u.sessionKey)).toBe("current");
    const get = seen.find((s) => s.url.includes(CHECK_SESSION_API))!;
    expect(get.method).toBe("GET");
    expect(get.body).toBeUndefined();
    const q = new URL(get.url).searchParams;
    expect([...q.keys()].sort()).toEqual(["access_token", "openid", "sig_method", "signature"]);
    expect(q.get("sig_method")).toBe("hmac_sha256");
    expect(q.get("signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(await checkSessionKey(api, u.openid, "o0q0otL8aEzpcZL/FT9WsQ==")).toBe("stale");
  });

  it("a rejected token: compare-and-drop, one refetch, one retry; a second rejection thrown", async () => {
    const { w, api } = setup();
    const u = await wxUser(w);
    await api.call(API, BODY);
    w.sim.wx.invalidateTokens();
    expect(await checkSessionKey(api, u.openid, u.sessionKey)).toBe("current");
    expect(calls(w)).toBe(2);
    expect(getCalls(w)).toBe(2);
    w.sim.addFault({ target: "api", path: `/${CHECK_SESSION_API}`, method: "GET", kind: "errcode", errcode: 42001, count: 2 });
    await expect(checkSessionKey(api, u.openid, u.sessionKey)).rejects.toMatchObject({ errcode: 42001 });
    expect(getCalls(w)).toBe(4);
    w.sim.addFault({ target: "api", path: `/${CHECK_SESSION_API}`, method: "GET", kind: "errcode", errcode: -1 });
    await expect(checkSessionKey(api, u.openid, u.sessionKey)).rejects.toMatchObject({ errcode: -1 });
  });
});

describe("never logged", () => {
  it("no access token, AppSecret or token URL in any log line", async () => {
    const { w, api } = setup();
    await api.call(API, BODY);
    w.sim.wx.invalidateTokens();
    await api.call(API, BODY);
    w.sim.addFault({ target: "api", path: `/${API}`, kind: "timeout", ms: 5_000 });
    await expect(api.call(API, BODY)).rejects.toBeInstanceOf(WxUnknownOutcomeError);
    const token = (await storeOf(w).load())!.token;
    const all = w.logs.join("\n");
    expect(all).not.toContain(token.slice(3, 40));
    expect(all).not.toContain(APPSECRET);
    expect(all).not.toContain("access_token=");
  });
});

describe("answers", () => {
  it("classifies errcode 0 / absent as success, non-zero as WxErrcodeError with rid, 5xx and non-JSON as unknown", () => {
    expect(classifyWxAnswer("a", 200, '{"errcode":0,"x":1}')).toEqual({ errcode: 0, x: 1 });
    expect(classifyWxAnswer("a", 200, '{"access_token":"t"}')).toEqual({ access_token: "t" });
    const e = (() => {
      try {
        classifyWxAnswer("a", 200, '{"errcode":40001,"errmsg":"invalid credential, rid: 6492d5f3-1a2b"}');
      } catch (err) {
        return err as WxErrcodeError;
      }
    })();
    expect(e).toMatchObject({ errcode: 40001, rid: "6492d5f3-1a2b", code: "errcode_40001" });
    expect(() => classifyWxAnswer("a", 502, "{}")).toThrow(WxUnknownOutcomeError);
    expect(() => classifyWxAnswer("a", 200, "<html>")).toThrow(WxUnknownOutcomeError);
    expect(() => classifyWxAnswer("a", 200, "[1]")).toThrow(WxUnknownOutcomeError);
    expect(ridOf("no rid here")).toBeNull();
  });
});

/**
 * POST /v1/users/me/open-data (WECHATPAY.md Q): legacy encryptedData decrypted with the user's
 * stored session_key → {data}; a failure asks wxa/checksession whether that key is current
 * (87009 → 401 session_stale, current → 400 undecryptable), rate-limited per user; a watermark
 * of another AppID → 400; bad bodies → 400, nothing written, WeChat not asked; nothing logged.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { fromBase64, toBase64 } from "../../src/lib/encoding";
import { OPEN_DATA_CHECK_RATE_LIMIT } from "../../src/users/open-data";
import { dbSnapshot } from "../support/hostile";
import { createWorld, forgetAccessToken, type World } from "../support/world";

type Err = { error: { code: string; message: string } };
const PATH = "/v1/users/me/open-data";
const checks = (w: World) => w.sim.stats().calls["GET /wxa/checksession"] ?? 0;
const WERUN = { stepInfoList: [{ timestamp: 1764864000, step: 8231 }, { timestamp: 1764950400, step: 10402 }] };

async function expectError(res: Response, status: number, code: string): Promise<Err> {
  const body = (await res.json()) as Err;
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  return body;
}

/** Flips one bit of the decoded bytes at `at` (negative: from the end). */
function flip(b64: string, at: number): string {
  const b = fromBase64(b64)!;
  const i = at < 0 ? b.length + at : at;
  b[i]! ^= 0x01;
  return toBase64(b);
}

let n = 0;
/** Logs in with a given, already minted code (the second half of a wx.login the test started). */
async function loginWith(w: World, code: string): Promise<void> {
  const res = await w.request("POST", "/v1/auth/login", { json: { code }, headers: { "cf-connecting-ip": `10.9.0.${++n % 250}` } });
  expect(res.status).toBe(200);
}

// Every world is a new WeChat: a token another test stored in D1 would cost one 40001 round.
beforeEach(forgetAccessToken);

describe("POST /v1/users/me/open-data", () => {
  it("decrypts a wx.getWeRunData payload with the stored session_key; watermark included; no WeChat call, nothing written or logged", async () => {
    const w = createWorld();
    const sessionKeys: string[] = [];
    const inner = w.deps.fetch;
    w.deps.fetch = async (input, init) => {
      const res = await inner(input, init);
      if (String(input).includes("/sns/jscode2session")) sessionKeys.push(((await res.clone().json()) as { session_key: string }).session_key);
      return res;
    };
    const user = await w.login();
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    const before = await dbSnapshot();
    const res = await w.request("POST", PATH, { json: sealed, token: user.token });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ data: { ...WERUN, watermark: { timestamp: Math.floor(w.clock.now() / 1000), appid: getAppid(w) } } });
    expect(await dbSnapshot()).toEqual(before);
    expect(checks(w)).toBe(0);
    const logs = w.logs.join("\n");
    expect(sessionKeys).toHaveLength(1);
    for (const secret of [sessionKeys[0]!, sealed.encryptedData, sealed.iv, "10402"]) expect(logs).not.toContain(secret);
  });

  it("tampered data or a wrong iv: checksession says the key is current → 400 undecryptable, one WeChat call each", async () => {
    const w = createWorld();
    const user = await w.login();
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    for (const [i, body] of [
      { ...sealed, encryptedData: flip(sealed.encryptedData, -1) },
      { ...sealed, encryptedData: flip(sealed.encryptedData, 20) },
      // iv byte 0 turns the opening "{" into "z". (CBC has no MAC: a flip inside the first block's
      // field name would still decrypt — WeChat's format; the README's open-data paragraph says so.)
      { ...sealed, iv: flip(sealed.iv, 0) },
    ].entries()) {
      const err = await expectError(await w.request("POST", PATH, { json: body, token: user.token }), 400, "undecryptable");
      expect(err.error.message).toContain("fetch it again");
      expect(checks(w)).toBe(i + 1);
    }
    // The untouched payload still works: nothing about the user changed.
    expect((await w.request("POST", PATH, { json: sealed, token: user.token })).status).toBe(200);
  });

  it("a newer wx.login superseded the stored key: 401 session_stale; after logging in with it, the data decrypts", async () => {
    const w = createWorld();
    const user = await w.login();
    const relogin = w.sim.mintCode({ openid: user.openid }); // wx.login: WeChat issues a new session_key now
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    const err = await expectError(await w.request("POST", PATH, { json: sealed, token: user.token }), 401, "session_stale");
    expect(err.error.message).toContain("wx.login");
    expect(checks(w)).toBe(1);
    // WeChat's 87009 is a verdict on the key, not a fault: no warning for it.
    expect(w.logs.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
    expect(w.logs.some((l) => l.includes('"errcode":87009'))).toBe(true);
    await loginWith(w, relogin.code);
    const res = await w.request("POST", PATH, { json: sealed, token: user.token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: typeof WERUN }).data.stepInfoList).toEqual(WERUN.stepInfoList);
  });

  it("data fetched before the latest login: the stored key is current → 400 undecryptable (fetch it again)", async () => {
    const w = createWorld();
    const user = await w.login();
    const old = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    await w.login({ openid: user.openid });
    await expectError(await w.request("POST", PATH, { json: old, token: user.token }), 400, "undecryptable");
    expect(checks(w)).toBe(1);
  });

  it("a watermark of another AppID → 400 undecryptable, a warning logged, WeChat not asked", async () => {
    const w = createWorld();
    const user = await w.login();
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN, appid: "wx0ther0ff1c1a1acc" });
    const err = await expectError(await w.request("POST", PATH, { json: sealed, token: user.token }), 400, "undecryptable");
    expect(err.error.message).toContain("another mini program");
    expect(checks(w)).toBe(0);
    expect(w.logs.some((l) => l.includes('"level":"warn"') && l.includes("watermark"))).toBe(true);
    expect(w.logs.join("\n")).not.toContain("10402");
  });

  it("another user's data is just undecryptable for this user: never revealed", async () => {
    const w = createWorld();
    const alice = await w.login();
    const bob = await w.login();
    const sealed = await w.sim.wx.openData({ openid: alice.openid, data: { openGId: "G-alice-secret-group" } });
    const res = await w.request("POST", PATH, { json: sealed, token: bob.token });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ error: { code: "undecryptable" } });
    expect(text).not.toContain("G-alice");
    expect(w.logs.join("\n")).not.toContain("G-alice");
  });

  it("401 without a session (or with a forged one): nothing decrypted, WeChat not asked", async () => {
    const w = createWorld();
    const user = await w.login();
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    await expectError(await w.request("POST", PATH, { json: sealed }), 401, "unauthorized");
    await expectError(await w.request("POST", PATH, { json: sealed, token: `${user.token}x` }), 401, "unauthorized");
    expect(checks(w)).toBe(0);
  });

  it("a stored session_key that no configured SESSION_SECRET opens → 401 session_stale, WeChat not asked", async () => {
    const w = createWorld();
    const user = await w.login();
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    await env.DB.prepare("UPDATE users SET session_key_enc = ? WHERE id = ?").bind(toBase64(new Uint8Array(60)), user.userId).run();
    await expectError(await w.request("POST", PATH, { json: sealed, token: user.token }), 401, "session_stale");
    expect(checks(w)).toBe(0);
  });

  it(`429 after ${OPEN_DATA_CHECK_RATE_LIMIT} checksession calls of a user in a minute; decryptable data is not limited`, async () => {
    const w = createWorld();
    const user = await w.login();
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    const broken = { ...sealed, encryptedData: flip(sealed.encryptedData, -1) };
    for (let i = 0; i < OPEN_DATA_CHECK_RATE_LIMIT; i++) {
      await expectError(await w.request("POST", PATH, { json: broken, token: user.token }), 400, "undecryptable");
    }
    const res = await w.request("POST", PATH, { json: broken, token: user.token });
    await expectError(res, 429, "rate_limited");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(checks(w)).toBe(OPEN_DATA_CHECK_RATE_LIMIT);
    expect((await w.request("POST", PATH, { json: sealed, token: user.token })).status).toBe(200);
    // Per user: another user still gets their answer.
    const other = await w.login();
    const mine = await w.sim.wx.openData({ openid: other.openid, data: WERUN });
    await expectError(await w.request("POST", PATH, { json: { ...mine, iv: flip(mine.iv, 0) }, token: other.token }), 400, "undecryptable");
    w.clock.advance(60_000);
    await expectError(await w.request("POST", PATH, { json: broken, token: user.token }), 400, "undecryptable");
  });

  it("checksession unavailable (-1, timeout) → 502 upstream_unavailable; a rejected access token is refreshed and retried once", async () => {
    const w = createWorld();
    const user = await w.login();
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    const broken = { ...sealed, encryptedData: flip(sealed.encryptedData, -1) };
    w.sim.addFault({ target: "api", path: "/wxa/checksession", kind: "errcode", errcode: -1 });
    await expectError(await w.request("POST", PATH, { json: broken, token: user.token }), 502, "upstream_unavailable");
    w.sim.addFault({ target: "api", path: "/wxa/checksession", kind: "timeout", ms: 5_000 });
    await expectError(await w.request("POST", PATH, { json: broken, token: user.token }), 502, "upstream_unavailable");
    w.sim.wx.invalidateTokens();
    w.sim.mintCode({ openid: user.openid });
    const stale = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    await expectError(await w.request("POST", PATH, { json: stale, token: user.token }), 401, "session_stale");
    expect(w.sim.wx.tokenStats().stableTokenCalls).toBe(2);
  });

  it("400 invalid_request for malformed bodies: nothing written, WeChat not asked", async () => {
    const w = createWorld();
    const user = await w.login();
    const sealed = await w.sim.wx.openData({ openid: user.openid, data: WERUN });
    const before = await dbSnapshot();
    for (const body of [
      {},
      { encryptedData: sealed.encryptedData },
      { iv: sealed.iv },
      { ...sealed, iv: toBase64(new Uint8Array(12)) },
      { ...sealed, iv: sealed.iv.replace(/==$/, "") },
      { ...sealed, encryptedData: `${sealed.encryptedData.slice(0, -4)}!!!!` },
      { ...sealed, encryptedData: toBase64(fromBase64(sealed.encryptedData)!.subarray(1)) },
      { ...sealed, encryptedData: "" },
      { ...sealed, encryptedData: "A".repeat(32_772) },
      { ...sealed, encryptedData: 12 },
      { ...sealed, cloudID: "x" },
      [sealed],
    ]) {
      await expectError(await w.request("POST", PATH, { json: body, token: user.token }), 400, "invalid_request");
    }
    expect(await dbSnapshot()).toEqual(before);
    expect(checks(w)).toBe(0);
  });
});

function getAppid(w: World): string {
  return w.env.WX_APPID as string;
}

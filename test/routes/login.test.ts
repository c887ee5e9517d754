import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/app";
import { sessionKeys } from "../../src/auth/keys";
import { signToken } from "../../src/auth/token";
import { toBase64Url, utf8 } from "../../src/lib/encoding";
import { APPSECRET } from "../fixtures/keys";
import { createWorld } from "../support/world";

type Err = { error: { code: string; message: string; requestId: string } };

async function login(w: ReturnType<typeof createWorld>, body: unknown, ip = "198.51.100.7") {
  return w.request("POST", "/v1/auth/login", { json: body, headers: { "cf-connecting-ip": ip } });
}

async function expectError(res: Response, status: number, code: string): Promise<Err> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as Err;
  expect(body.error.code).toBe(code);
  expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
  return body;
}

const userCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM users").first<{ n: number }>())!.n;

describe("POST /v1/auth/login", () => {
  it("logs a new user in and returns our own token, never the session_key", async () => {
    const w = createWorld();
    const { code, openid } = w.sim.mintCode();
    const res = await login(w, { code });
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text) as { token: string; expiresIn: number; user: { id: string; openid: string } };
    expect(body.expiresIn).toBe(7200);
    expect(body.user.openid).toBe(openid);
    expect(body.user.id).toMatch(/^usr_/);
    expect(text).not.toMatch(/session_key|sessionKey/);
    // The token works on an authenticated route.
    const orders = await w.request("GET", "/v1/orders", { token: body.token });
    expect(orders.status).toBe(200);
    // session_key is stored encrypted, and never logged; the AppSecret never logged either.
    const row = await env.DB.prepare("SELECT session_key_enc FROM users WHERE openid = ?").bind(openid).first<{ session_key_enc: string }>();
    expect(row!.session_key_enc.length).toBeGreaterThan(40);
    const logs = w.logs.join("\n");
    expect(logs).not.toContain(APPSECRET);
    expect(logs).not.toContain(body.token);
  });

  it("keeps the same user id for a returning user and keeps the unionid", async () => {
    const w = createWorld();
    const first = w.sim.mintCode({ unionid: "union-123" });
    const a = (await (await login(w, { code: first.code })).json()) as { user: { id: string } };
    const again = w.sim.mintCode({ openid: first.openid });
    const b = (await (await login(w, { code: again.code })).json()) as { user: { id: string } };
    expect(b.user.id).toBe(a.user.id);
    const row = await env.DB.prepare("SELECT unionid FROM users WHERE id = ?").bind(a.user.id).first<{ unionid: string }>();
    expect(row!.unionid).toBe("union-123");
  });

  it("answers 401 invalid_code for an unknown code (40029) and a used code (40163)", async () => {
    const w = createWorld();
    await expectError(await login(w, { code: "never-minted" }), 401, "invalid_code");
    const { code } = w.sim.mintCode();
    expect((await login(w, { code })).status).toBe(200);
    const used = await expectError(await login(w, { code }), 401, "invalid_code");
    expect(used.error.message).toMatch(/already used/);
  });

  it("answers 401 invalid_code for a code older than five minutes", async () => {
    const w = createWorld();
    const { code } = w.sim.mintCode();
    w.clock.advance(5 * 60_000 + 1);
    await expectError(await login(w, { code }), 401, "invalid_code");
  });

  it("maps 40226 to 403 user_blocked and 45011 to 429 rate_limited with Retry-After", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "errcode", errcode: 40226 });
    await expectError(await login(w, { code: w.sim.mintCode().code }), 403, "user_blocked");
    w.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "errcode", errcode: 45011 });
    const res = await login(w, { code: w.sim.mintCode().code });
    expect(res.headers.get("retry-after")).toBe("60");
    await expectError(res, 429, "rate_limited");
  });

  it("goes through the shared server-API transport: WeChat's rid is logged, the AppSecret and the code never are", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "errcode", errcode: 40013, errmsg: "invalid appid rid: 6492f1e3-1b2c" });
    const { code } = w.sim.mintCode();
    const body = await expectError(await login(w, { code }), 502, "upstream_unavailable");
    expect(body.error.message).not.toContain("6492f1e3");
    const logs = w.logs.join("\n");
    expect(logs).toContain("6492f1e3-1b2c");
    expect(logs).toContain('"api":"sns/jscode2session"');
    expect(logs).toContain("check WX_APPID and WX_APPSECRET");
    expect(logs).not.toContain(APPSECRET);
    expect(logs).not.toContain(code);
    // A bad code is the client's mistake: no warning for it.
    w.logs.length = 0;
    await expectError(await login(w, { code: "never-issued" }), 401, "invalid_code");
    expect(w.logs.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
  });

  it("retries errcode -1 at most twice, then answers 502 upstream_unavailable", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "errcode", errcode: -1, count: 2 });
    expect((await login(w, { code: w.sim.mintCode().code })).status).toBe(200);
    const before = w.sim.stats().calls["GET /sns/jscode2session"] ?? 0;
    w.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "errcode", errcode: -1, count: 3 });
    await expectError(await login(w, { code: w.sim.mintCode().code }), 502, "upstream_unavailable");
    expect((w.sim.stats().calls["GET /sns/jscode2session"] ?? 0) - before).toBe(3);
  });

  it.each([
    ["an HTTP 5xx", { kind: "systemError" as const }],
    ["a non-JSON answer", { kind: "nonJson" as const }],
    ["a timeout", { kind: "timeout" as const }],
  ])("answers 502 upstream_unavailable for %s, without retrying the single-use code", async (_name, fault) => {
    const w = createWorld();
    w.sim.addFault({ target: "api", path: "/sns/jscode2session", ...fault });
    const before = w.sim.stats().calls["GET /sns/jscode2session"] ?? 0;
    await expectError(await login(w, { code: w.sim.mintCode().code }), 502, "upstream_unavailable");
    expect((w.sim.stats().calls["GET /sns/jscode2session"] ?? 0) - before).toBe(1);
  }, 15_000);

  it("answers 502 when WeChat cannot be reached at all, and logs no secret", async () => {
    const w = createWorld();
    w.deps.fetch = async () => { throw new TypeError(`connect ECONNREFUSED for secret=${APPSECRET}`); };
    await expectError(await login(w, { code: "abc" }), 502, "upstream_unavailable");
    expect(w.logs.join("\n")).not.toContain(APPSECRET);
  });

  it.each([
    ["missing code", {}],
    ["non-string code", { code: 42 }],
    ["empty code", { code: "" }],
    ["extra fields", { code: "abc", openid: "o-forged" }],
    ["an array body", [1, 2]],
    ["a huge code", { code: "x".repeat(5000) }],
  ])("answers 400 invalid_request for %s, writing nothing", async (_name, body) => {
    const w = createWorld();
    const before = await userCount();
    await expectError(await login(w, body), 400, "invalid_request");
    expect(await userCount()).toBe(before);
  });

  it("answers 400 for malformed JSON, 415 for a wrong content type, 413 for an oversize body", async () => {
    const w = createWorld();
    const headers = { "cf-connecting-ip": "203.0.113.9" };
    await expectError(
      await w.request("POST", "/v1/auth/login", { body: '{"code":', headers: { ...headers, "content-type": "application/json" } }),
      400,
      "invalid_request",
    );
    await expectError(
      await w.request("POST", "/v1/auth/login", { body: "code=abc", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" } }),
      415,
      "unsupported_media_type",
    );
    await expectError(
      await w.request("POST", "/v1/auth/login", { body: JSON.stringify({ code: "a".repeat(MAX_BODY_BYTES) }), headers: { ...headers, "content-type": "application/json" } }),
      413,
      "payload_too_large",
    );
  });

  it("limits logins per client address (429 with Retry-After), and 0 turns the limit off", async () => {
    const w = createWorld({ env: { LOGIN_RATE_LIMIT: "3" } });
    for (let i = 0; i < 3; i++) expect((await login(w, { code: w.sim.mintCode().code }, "192.0.2.50")).status).toBe(200);
    const res = await login(w, { code: w.sim.mintCode().code }, "192.0.2.50");
    await expectError(res, 429, "rate_limited");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another address is not limited; the next minute is a new window.
    expect((await login(w, { code: w.sim.mintCode().code }, "192.0.2.51")).status).toBe(200);
    w.clock.advance(60_000);
    expect((await login(w, { code: w.sim.mintCode().code }, "192.0.2.50")).status).toBe(200);

    const off = createWorld({ env: { LOGIN_RATE_LIMIT: "0" } });
    for (let i = 0; i < 5; i++) expect((await login(off, { code: off.sim.mintCode().code }, "192.0.2.60")).status).toBe(200);
  });

  it("limits logins per openid too", async () => {
    const w = createWorld({ env: { LOGIN_RATE_LIMIT: "2" } });
    const { openid } = w.sim.mintCode();
    for (let i = 0; i < 2; i++) expect((await login(w, { code: w.sim.mintCode({ openid }).code }, `192.0.2.${70 + i}`)).status).toBe(200);
    await expectError(await login(w, { code: w.sim.mintCode({ openid }).code }, "192.0.2.80"), 429, "rate_limited");
  });
});

describe("session tokens on authenticated routes", () => {
  it("rejects a missing, malformed, tampered, alg-none or expired token with 401 unauthorized", async () => {
    const w = createWorld();
    const { token } = await w.login();
    await expectError(await w.request("GET", "/v1/orders"), 401, "unauthorized");
    await expectError(await w.request("GET", "/v1/orders", { headers: { authorization: "Basic abc" } }), 401, "unauthorized");
    const [h, p, s] = token.split(".") as [string, string, string];
    // The last two characters replaced by two others (never by the same: a 1-in-1024 unchanged token).
    const tail = s.endsWith("AA") ? "BA" : "AA";
    await expectError(await w.request("GET", "/v1/orders", { token: `${h}.${p}.${s.slice(0, -2)}${tail}` }), 401, "unauthorized");
    const none = toBase64Url(utf8(JSON.stringify({ alg: "none", typ: "JWT" })));
    await expectError(await w.request("GET", "/v1/orders", { token: `${none}.${p}.` }), 401, "unauthorized");
    expect((await w.request("GET", "/v1/orders", { token })).status).toBe(200);
    w.clock.advance(7200 * 1000);
    const expired = await expectError(await w.request("GET", "/v1/orders", { token }), 401, "unauthorized");
    expect(expired.error.message).toMatch(/expired/);
    expect(w.logs.join("\n")).not.toContain(token);
  });

  it("rejects a token signed with another secret", async () => {
    const w = createWorld();
    const other = await sessionKeys("some-other-secret-that-is-long-enough-0123");
    const now = Math.floor(w.clock.now() / 1000);
    const forged = await signToken(other.tokenKey, { sub: "usr_X", oid: "o", iat: now, exp: now + 100 });
    await expectError(await w.request("GET", "/v1/orders", { token: forged }), 401, "unauthorized");
  });
});

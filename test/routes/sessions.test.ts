/**
 * Sessions that can be ended (SPEC §11): iat rules, per-user revocation (admin route, 40226),
 * canonical signatures, SESSION_SECRET rotation — and the revocation check riding in the hot
 * routes' first D1 batch instead of costing a round trip.
 */
import { describe, expect, it } from "vitest";
import { openAtRest, sealAtRest, sessionKeys } from "../../src/auth/keys";
import { signToken } from "../../src/auth/token";
import { fromBase64Url } from "../../src/lib/encoding";
import { cryptoRandom } from "../../src/lib/random";
import { SESSION_SECRET } from "../fixtures/keys";
import { wrapD1 } from "../support/chaos";
import { createWorld, type World } from "../support/world";
import { COFFEE_X2, createPaying, errorOf, postOrder } from "../unit/orders/support";
import { admin } from "../unit/refunds/support";

const NEW_SECRET = "a-brand-new-session-secret-of-more-than-32-bytes";
const nowSeconds = (w: World) => Math.floor(w.clock.now() / 1000);

async function tokenFor(w: World, user: { userId: string; openid: string }, iat: number, exp = iat + 7200, secret = SESSION_SECRET) {
  const { tokenKey } = await sessionKeys(secret);
  return signToken(tokenKey, { sub: user.userId, oid: user.openid, iat, exp });
}

const status = async (w: World, token: string, path = "/v1/orders") => (await w.request("GET", path, { token })).status;

/** Every mini-program route behind a session, as [method, path, body]. */
const routes = (orderId: string): [string, string, unknown][] => [
  ["GET", "/v1/orders", undefined],
  ["GET", `/v1/orders/${orderId}`, undefined],
  ["GET", `/v1/orders/${orderId}?sync=true`, undefined],
  ["POST", "/v1/orders", COFFEE_X2],
  ["POST", `/v1/orders/${orderId}/pay`, undefined],
  ["POST", `/v1/orders/${orderId}/cancel`, undefined],
];

describe("POST /admin/users/:id/revoke-sessions", () => {
  it("→ 204; every earlier token of the user is refused on every route, nothing is written; a new login works at once", async () => {
    const w = createWorld();
    const u = await w.login();
    const other = await w.login();
    const second = await w.login({ openid: u.openid });
    const { order } = await createPaying(w, u.token);
    expect(await status(w, second.token)).toBe(200);

    const res = await admin(w, "POST", `/admin/users/${u.userId}/revoke-sessions`);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");

    const orders = () => w.env.DB.prepare("SELECT count(*) n FROM orders").first<{ n: number }>();
    const before = await orders();
    for (const token of [u.token, second.token]) {
      for (const [method, path, json] of routes(order.id)) {
        const r = await w.request(method, path, { token, ...(json ? { json } : {}) });
        expect(r.status, `${method} ${path}`).toBe(401);
        expect((await errorOf(r)).code).toBe("unauthorized");
      }
    }
    expect(await orders()).toEqual(before);
    // Another user is untouched; the same user logging in again (same second) gets a working token.
    expect(await status(w, other.token)).toBe(200);
    const again = await w.login({ openid: u.openid });
    expect(await status(w, again.token)).toBe(200);
    expect((await postOrder(w, again.token)).status).toBe(201);
  });

  it("accepts the openid as well; unknown user → 404; needs the admin token", async () => {
    const w = createWorld();
    const u = await w.login();
    expect((await admin(w, "POST", `/admin/users/${u.openid}/revoke-sessions`)).status).toBe(204);
    expect(await status(w, u.token)).toBe(401);
    const missing = await admin(w, "POST", "/admin/users/usr_NOBODY/revoke-sessions");
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe("not_found");
    const v = await w.login();
    expect((await admin(w, "POST", `/admin/users/${v.userId}/revoke-sessions`, { token: "not-the-admin-token-at-all", ip: "192.0.2.9" })).status).toBe(401);
    expect((await admin(w, "POST", `/admin/users/${v.userId}/revoke-sessions`, { token: v.token, ip: "192.0.2.9" })).status).toBe(401);
    expect(await status(w, v.token)).toBe(200);
  });
});

describe("token time rules", () => {
  it("refuses an iat more than 60 s in the future; accepts skew up to 60 s", async () => {
    const w = createWorld();
    const u = await w.login();
    const now = nowSeconds(w);
    expect(await status(w, await tokenFor(w, u, now + 61))).toBe(401);
    expect(await status(w, await tokenFor(w, u, now + 60))).toBe(200);
  });

  it("refuses a token older than the *current* SESSION_TTL_SECONDS, whatever its exp says", async () => {
    const w = createWorld({ env: { SESSION_TTL_SECONDS: "600" } });
    const u = await w.login();
    const now = nowSeconds(w);
    const longLived = await tokenFor(w, u, now - 601, now + 30 * 86400);
    expect(await status(w, longLived)).toBe(401);
    expect(await status(w, await tokenFor(w, u, now - 599, now + 30 * 86400))).toBe(200);
    w.clock.advance(600_000);
    expect(await status(w, u.token)).toBe(401);
  });

  it("refuses another spelling of the same signature (canonical base64url only)", async () => {
    const w = createWorld();
    const u = await w.login();
    const [h, p, s] = u.token.split(".") as [string, string, string];
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // 32 bytes in 43 characters: the last one carries 2 unused bits.
    const last = alphabet.indexOf(s[s.length - 1]!);
    const variant = `${s.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(fromBase64Url(variant)).toEqual(fromBase64Url(s));
    expect(await status(w, `${h}.${p}.${variant}`)).toBe(401);
    expect(await status(w, u.token)).toBe(200);
  });
});

describe("a login WeChat answers 40226", () => {
  it("ends the sessions of the user its previous token names", async () => {
    const w = createWorld();
    const u = await w.login();
    const bystander = await w.login();
    w.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "errcode", errcode: 40226 });
    const res = await w.request("POST", "/v1/auth/login", { json: { code: w.sim.mintCode({ openid: u.openid }).code }, token: u.token });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe("user_blocked");
    expect(await status(w, u.token)).toBe(401);
    expect(await status(w, bystander.token)).toBe(200);
    expect(w.logs.some((l) => l.includes("login blocked by WeChat (40226); sessions ended") && l.includes(u.userId))).toBe(true);
  });

  it("without a token (or with a forged one) ends nothing and still answers 403", async () => {
    const w = createWorld();
    const u = await w.login();
    for (const token of [undefined, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA"]) {
      w.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "errcode", errcode: 40226 });
      const res = await w.request("POST", "/v1/auth/login", { json: { code: w.sim.mintCode({ openid: u.openid }).code }, ...(token ? { token } : {}) });
      expect(res.status).toBe(403);
    }
    expect(await status(w, u.token)).toBe(200);
  });
});

describe("SESSION_SECRET rotation", () => {
  it("with SESSION_SECRET_PREVIOUS set, tokens and sealed session_keys of the old secret still work; new ones use the new secret", async () => {
    const old = createWorld();
    const u = await old.login();
    const rotated = createWorld({ env: { SESSION_SECRET: NEW_SECRET, SESSION_SECRET_PREVIOUS: SESSION_SECRET } });
    rotated.clock.set(old.clock.now());
    expect(await status(rotated, u.token)).toBe(200);
    const withoutPrevious = createWorld({ env: { SESSION_SECRET: NEW_SECRET } });
    expect(await status(withoutPrevious, u.token)).toBe(401);

    const stored = await rotated.env.DB.prepare("SELECT session_key_enc s FROM users WHERE id = ?").bind(u.userId).first<{ s: string }>();
    const ring = [await sessionKeys(NEW_SECRET), await sessionKeys(SESSION_SECRET)];
    expect(await openAtRest(ring, stored!.s, u.openid)).toBeTruthy();
    await expect(openAtRest([await sessionKeys(NEW_SECRET)], stored!.s, u.openid)).rejects.toThrow();

    const fresh = await rotated.login({ openid: u.openid });
    expect(await status(withoutPrevious, fresh.token)).toBe(200);
    const resealed = await rotated.env.DB.prepare("SELECT session_key_enc s FROM users WHERE id = ?").bind(u.userId).first<{ s: string }>();
    expect(await openAtRest(await sessionKeys(NEW_SECRET), resealed!.s, u.openid)).toBeTruthy();
    const sealed = await sealAtRest(await sessionKeys(SESSION_SECRET), cryptoRandom, "k", "o");
    expect(await openAtRest(ring, sealed, "o")).toBe("k");
  });
});

describe("the revocation check on the benchmarked routes", () => {
  it("rides in their first D1 batch: get, list and create make no extra round trip for it", async () => {
    let batches: string[][] = [];
    let prepared = 0;
    const db = wrapD1({
      batch: (real, stmts) => {
        batches.push(stmts.map((s) => String((s as unknown as { statement?: string }).statement ?? "")));
        return real.batch(stmts);
      },
      prepare: (real, sql) => {
        prepared++;
        return real.prepare(sql);
      },
    });
    const w = createWorld({ env: { DB: db, ORDER_RATE_LIMIT: "0" } });
    const u = await w.login();
    const { order } = await createPaying(w, u.token);
    const roundTrips = async (fn: () => Promise<Response>) => {
      batches = [];
      prepared = 0;
      const res = await fn();
      const batched = batches.reduce((n, b) => n + b.length, 0);
      return { status: res.status, roundTrips: batches.length + prepared - batched, first: batches[0] ?? [] };
    };
    for (const path of [`/v1/orders/${order.id}`, "/v1/orders"]) {
      const r = await roundTrips(() => w.request("GET", path, { token: u.token }));
      expect(r.status).toBe(200);
      expect(r.roundTrips).toBe(1);
      expect(r.first.some((sql) => sql.includes("sessions_valid_after"))).toBe(true);
    }
    const created = await roundTrips(() => postOrder(w, u.token));
    expect(created.status).toBe(201);
    expect(created.first.some((sql) => sql.includes("sessions_valid_after"))).toBe(true);
    expect(created.first.some((sql) => sql.includes("FROM products"))).toBe(true);
  });
});

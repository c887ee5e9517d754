/**
 * Abuse resistance (SPEC §11): rate limits that cost nothing once they refuse, IPv6 per /64,
 * bounded cleanup; WeChat's quotas protected from one account (MAX_UNPAID_ORDERS, the per-user
 * ceiling on ?sync=true), checked against the simulator's query counts.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CLEANUP_BATCH, CLEANUP_MAX_BATCHES, deleteOldWindows } from "../../src/lib/ratelimit";
import { SYNC_PER_USER_PER_SECOND } from "../../src/orders/service";
import { T0 } from "../support/harness";
import { createWorld, type World } from "../support/world";
import { calls, closeKey, count, createPaying, errorOf, JSAPI, type OrderJson, postOrder, queryKey, setup } from "../unit/orders/support";

const login = (w: World, ip: string) =>
  w.request("POST", "/v1/auth/login", { json: { code: w.sim.mintCode().code }, headers: { "cf-connecting-ip": ip } });
const rows = (w: World, prefix: string) =>
  w.env.DB.prepare("SELECT key, window, count FROM rate_limits WHERE key LIKE ? ORDER BY key, window").bind(`${prefix}%`).all().then((r) => r.results);

describe("rate limits that refuse for free", () => {
  it("a refused login writes nothing: the counter stops at the limit", async () => {
    const w = createWorld({ env: { LOGIN_RATE_LIMIT: "3" } });
    const ip = "192.0.2.200";
    for (let i = 0; i < 3; i++) expect((await login(w, ip)).status).toBe(200);
    const before = await rows(w, `login:ip:${ip}`);
    expect(before).toEqual([expect.objectContaining({ count: 3 })]);
    for (let i = 0; i < 10; i++) {
      const res = await login(w, ip);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    expect(await rows(w, `login:ip:${ip}`)).toEqual(before);
    // The refused requests never reached WeChat either.
    expect(w.sim.stats().calls["GET /sns/jscode2session"]).toBe(3);
  });

  it("counts IPv6 clients per /64", async () => {
    const w = createWorld({ env: { LOGIN_RATE_LIMIT: "3" } });
    for (const ip of ["2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6:aaaa:bbbb:cccc:dddd"]) expect((await login(w, ip)).status).toBe(200);
    expect((await login(w, "2001:db8:5:6:ffff::9")).status).toBe(429);
    expect((await login(w, "2001:db8:5:7::1")).status).toBe(200);
    expect(await rows(w, "login:ip:2001:db8:5:6")).toEqual([expect.objectContaining({ key: "login:ip:2001:db8:5:6::/64", count: 3 })]);
  });

  it("a refused order creation writes nothing either", async () => {
    const { w, u } = await setup({ env: { ORDER_RATE_LIMIT: "2" } });
    for (let i = 0; i < 2; i++) expect((await postOrder(w, u.token)).status).toBe(201);
    const before = await rows(w, `orders:user:${u.userId}`);
    for (let i = 0; i < 3; i++) expect((await postOrder(w, u.token)).status).toBe(429);
    expect(await rows(w, `orders:user:${u.userId}`)).toEqual(before);
  });

  it("old windows are deleted in bounded batches on an index", async () => {
    const minute = 60;
    const start = T0 / 1000;
    const old = CLEANUP_BATCH * CLEANUP_MAX_BATCHES + 700;
    await env.DB.prepare(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) " +
        "INSERT INTO rate_limits (key, window, count) SELECT 'cleanup:' || i, ?2 - (i % 5) * 60, 1 FROM n",
    )
      .bind(old, start - 3 * minute)
      .run();
    await env.DB.prepare("INSERT INTO rate_limits (key, window, count) VALUES ('cleanup:current', ?1, 1), ('cleanup:previous', ?2, 1)")
      .bind(start, start - minute)
      .run();
    const left = () => env.DB.prepare("SELECT count(*) n FROM rate_limits WHERE key LIKE 'cleanup:%'").first<{ n: number }>().then((r) => r!.n);
    expect(await deleteOldWindows(env.DB, T0)).toBe(CLEANUP_BATCH * CLEANUP_MAX_BATCHES);
    expect(await left()).toBe(702);
    expect(await deleteOldWindows(env.DB, T0)).toBe(700);
    expect(await left()).toBe(2);
    const plan = await env.DB.prepare("EXPLAIN QUERY PLAN SELECT rowid FROM rate_limits WHERE window < ?1 LIMIT ?2").bind(start, 10).all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join(" ")).toMatch(/INDEX rate_limits_window/);
  });
});

describe("MAX_UNPAID_ORDERS", () => {
  it("one more CREATED/PAYING order → 429 too_many_unpaid_orders, nothing written, WeChat not called; paying or cancelling frees a place", async () => {
    const { w, u } = await setup({ env: { MAX_UNPAID_ORDERS: "3" } });
    const made: OrderJson[] = [];
    for (let i = 0; i < 3; i++) made.push((await createPaying(w, u.token)).order);
    const before = await Promise.all(["orders", "order_items", "order_events"].map((t) => count(w, `SELECT count(*) n FROM ${t}`)));
    const jsapi = calls(w, JSAPI);
    const res = await postOrder(w, u.token);
    expect(res.status).toBe(429);
    const err = await errorOf(res);
    expect(err.code).toBe("too_many_unpaid_orders");
    expect(err.message).toMatch(/3 unpaid orders/);
    expect(await Promise.all(["orders", "order_items", "order_events"].map((t) => count(w, `SELECT count(*) n FROM ${t}`)))).toEqual(before);
    expect(calls(w, JSAPI)).toBe(jsapi);

    // Another user is not affected; a repeat of an existing order (same key) still answers.
    const v = await w.login();
    expect((await postOrder(w, v.token)).status).toBe(201);
    expect((await w.request("POST", `/v1/orders/${made[0]!.id}/cancel`, { token: u.token })).status).toBe(200);
    expect(calls(w, closeKey(made[0]!.outTradeNo))).toBe(1);
    expect((await postOrder(w, u.token)).status).toBe(201);
    expect((await postOrder(w, u.token)).status).toBe(429);
  });

  it("holds under concurrent creates: the count and the insert are one statement", async () => {
    const { w, u } = await setup({ env: { MAX_UNPAID_ORDERS: "3", ORDER_RATE_LIMIT: "0" } });
    const answers = await Promise.all(Array.from({ length: 8 }, () => postOrder(w, u.token)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    expect(await count(w, "SELECT count(*) n FROM orders WHERE user_id = ? AND status IN ('CREATED', 'PAYING')", u.userId)).toBe(3);
    expect(await count(w, "SELECT count(*) n FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.user_id = ?", u.userId)).toBe(3);
  });

  it("is counted on an index; 0 turns it off; the default is 10", async () => {
    const plan = await env.DB.prepare("EXPLAIN QUERY PLAN SELECT 1 FROM orders WHERE user_id = ? AND status IN ('CREATED', 'PAYING') LIMIT 10").bind("u").all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join(" ")).toMatch(/COVERING INDEX orders_user_status/);
    const off = await setup({ env: { MAX_UNPAID_ORDERS: "0", ORDER_RATE_LIMIT: "0" } });
    for (let i = 0; i < 12; i++) expect((await postOrder(off.w, off.u.token)).status).toBe(201);
    const dflt = await setup({ env: { ORDER_RATE_LIMIT: "0" } });
    for (let i = 0; i < 10; i++) expect((await postOrder(dflt.w, dflt.u.token)).status).toBe(201);
    expect((await postOrder(dflt.w, dflt.u.token)).status).toBe(429);
  });
});

describe("?sync=true per-user ceiling", () => {
  it("a user syncing many unpaid orders in a loop asks WeChat at most twice a second (and once per 5 s per order); the rest is answered from D1", async () => {
    const { w, u } = await setup();
    const orders: OrderJson[] = [];
    for (let i = 0; i < 6; i++) orders.push((await createPaying(w, u.token)).order);
    const queries = () => orders.reduce((n, o) => n + calls(w, queryKey(o.outTradeNo)), 0);
    // 10 seconds of a tight loop: every order synced every 250 ms.
    const perSecond: number[] = [];
    for (let s = 0; s < 10; s++) {
      const start = queries();
      for (let tick = 0; tick < 4; tick++) {
        for (const o of orders) {
          const res = await w.request("GET", `/v1/orders/${o.id}?sync=true`, { token: u.token });
          expect(res.status).toBe(200);
          expect(((await res.json()) as { order: { status: string } }).order.status).toBe("PAYING");
        }
        w.clock.advance(250);
      }
      perSecond.push(queries() - start);
    }
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(SYNC_PER_USER_PER_SECOND);
    expect(queries()).toBeGreaterThan(0);
    for (const o of orders) expect(calls(w, queryKey(o.outTradeNo))).toBeLessThanOrEqual(2);
    // Another user's syncs are not held back by this one.
    const v = await w.login();
    const theirs = (await createPaying(w, v.token)).order;
    await w.request("GET", `/v1/orders/${theirs.id}?sync=true`, { token: v.token });
    expect(calls(w, queryKey(theirs.outTradeNo))).toBe(1);
  });
});

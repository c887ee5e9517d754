import { describe, expect, it, vi } from "vitest";
import { timingSafeEqual } from "../../src/lib/encoding";
import { ADMIN_FAILURE_LIMIT, isAdminAuthorized, tokenCompare } from "../../src/admin/auth";
import { ADMIN_TOKEN } from "../fixtures/keys";
import { createWorld } from "../support/world";
import { placeOrder } from "../support/shop";
import { admin, paidOrder } from "../unit/refunds/support";


const ADMIN_ROUTES: [string, string][] = [
  ["GET", "/admin/orders"],
  ["GET", "/admin/orders/ord_X"],
  ["POST", "/admin/orders/ord_X/refunds"],
  ["GET", "/admin/refunds/rfd_X"],
  ["POST", "/admin/reconcile"],
  ["GET", "/admin/bills/2026-11-28"],
];

describe("admin auth", () => {
  it("missing, malformed or wrong token → 401 unauthorized on every admin route", async () => {
    const w = createWorld();
    for (const [i, [method, path]] of ADMIN_ROUTES.entries()) {
      for (const token of [null, "wrong-token-0123456789abcdef", `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1)]) {
        // One address per route: failures per address are throttled past 20 a minute (below).
        const res = await admin(w, method, path, { token, json: method === "POST" ? { amount: 1 } : undefined, ip: `198.51.100.${i + 1}` });
        expect(res.status, `${method} ${path} ${token}`).toBe(401);
        const body = (await res.json()) as { error: { code: string; requestId: string } };
        expect(body.error.code).toBe("unauthorized");
        expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
      }
    }
    const basic = await w.request("GET", "/admin/orders", { headers: { authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}`, "cf-connecting-ip": "198.51.100.99" } });
    expect(basic.status).toBe(401);
    // A user session token is not an admin token.
    const u = await w.login();
    expect((await w.request("GET", "/admin/orders", { token: u.token, headers: { "cf-connecting-ip": "198.51.100.99" } })).status).toBe(401);
  });

  it("past 20 failures a minute, the address gets 429 + Retry-After (the right token too); each failure is a warn line with the address; other addresses are unaffected", async () => {
    const w = createWorld();
    const ip = "203.0.113.50";
    for (let i = 0; i < ADMIN_FAILURE_LIMIT; i++) {
      expect((await admin(w, "GET", "/admin/orders", { token: `guess-${i}-0123456789abcdef`, ip })).status).toBe(401);
    }
    const warns = w.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "admin authentication failed");
    expect(warns).toHaveLength(ADMIN_FAILURE_LIMIT);
    expect(warns.every((l) => l.level === "warn" && l.address === ip)).toBe(true);
    expect(w.logs.join("\n")).not.toContain("guess-3-0123456789abcdef");

    const counter = () => w.env.DB.prepare("SELECT count FROM rate_limits WHERE key = ?").bind(`admin:fail:${ip}`).first<{ count: number }>();
    expect((await counter())?.count).toBe(ADMIN_FAILURE_LIMIT);
    for (const token of ["guess-again-0123456789abcdef", ADMIN_TOKEN, null]) {
      const res = await admin(w, "GET", "/admin/orders", { token, ip });
      expect(res.status).toBe(429);
      expect((await res.json()) as unknown).toMatchObject({ error: { code: "rate_limited" } });
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    }
    // Refusals write nothing: the counter stayed at the limit.
    expect((await counter())?.count).toBe(ADMIN_FAILURE_LIMIT);
    // The revoke route is guarded by the same throttle.
    expect((await admin(w, "POST", "/admin/users/usr_X/revoke-sessions", { ip })).status).toBe(429);

    // Another address with the right token works; the guesser's next minute starts afresh.
    expect((await admin(w, "GET", "/admin/orders", { ip: "203.0.113.51" })).status).toBe(200);
    w.clock.advance(60_000);
    expect((await admin(w, "GET", "/admin/orders", { ip })).status).toBe(200);
  });

  it("counts an IPv6 guesser per /64, so rotating addresses inside it does not help", async () => {
    const w = createWorld();
    for (let i = 0; i < ADMIN_FAILURE_LIMIT; i++) {
      const ip = `2001:db8:aa:bb:${(i + 1).toString(16)}::${i}`;
      expect((await admin(w, "GET", "/admin/orders", { token: "wrong-wrong-wrong-wrong", ip })).status).toBe(401);
    }
    expect((await admin(w, "GET", "/admin/orders", { ip: "2001:db8:aa:bb:ffff:1:2:3" })).status).toBe(429);
    expect((await admin(w, "GET", "/admin/orders", { ip: "2001:db8:aa:bc::1" })).status).toBe(200);
  });

  it("the right token passes; the comparison is the constant-time one", async () => {
    const w = createWorld();
    expect(tokenCompare.equal).toBe(timingSafeEqual);
    const spy = vi.spyOn(tokenCompare, "equal");
    const res = await admin(w, "GET", "/admin/orders");
    expect(res.status).toBe(200);
    expect(spy).toHaveBeenCalledWith(ADMIN_TOKEN, ADMIN_TOKEN);
    spy.mockClear();
    expect((await admin(w, "GET", "/admin/orders", { token: "nope-nope-nope-nope" })).status).toBe(401);
    expect(spy).toHaveBeenCalledWith("nope-nope-nope-nope", ADMIN_TOKEN);
    spy.mockRestore();
    expect(isAdminAuthorized(`Bearer ${ADMIN_TOKEN}`, ADMIN_TOKEN)).toBe(true);
    expect(isAdminAuthorized(`bearer ${ADMIN_TOKEN}`, ADMIN_TOKEN)).toBe(false);
    expect(isAdminAuthorized(undefined, ADMIN_TOKEN)).toBe(false);
    expect(isAdminAuthorized("Bearer ", ADMIN_TOKEN)).toBe(false);
  });
});

describe("GET /admin/orders", () => {
  it("lists newest first, filters by status, paginates with a cursor (one items query per page)", async () => {
    const w = createWorld();
    const u = await w.login();
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      w.clock.advance(1000);
      made.push((await placeOrder(w, u.token, [{ productId: "prod_tea", quantity: i + 1 }])).order.id);
    }
    w.clock.advance(1000);
    const { order: paid } = await paidOrder(w);

    const page1 = (await (await admin(w, "GET", "/admin/orders?limit=2")).json()) as { orders: { id: string }[]; nextCursor: string | null };
    expect(page1.orders.map((o) => o.id)).toEqual([paid.id, made[4]]);
    const page2 = (await (await admin(w, "GET", `/admin/orders?limit=2&cursor=${page1.nextCursor}`)).json()) as { orders: { id: string }[]; nextCursor: string | null };
    expect(page2.orders.map((o) => o.id)).toEqual([made[3], made[2]]);

    const paying = (await (await admin(w, "GET", "/admin/orders?status=PAYING&limit=100")).json()) as { orders: { id: string; status: string; items: unknown[] }[]; nextCursor: string | null };
    expect(paying.orders.map((o) => o.id).slice(0, 5)).toEqual([...made].reverse());
    expect(paying.orders.every((o) => o.status === "PAYING")).toBe(true);
    expect(paying.orders[0]!.items).toHaveLength(1);
    expect(paying.nextCursor).toBeNull();
    const paidList = (await (await admin(w, "GET", "/admin/orders?status=PAID")).json()) as { orders: { id: string }[] };
    expect(paidList.orders.map((o) => o.id)).toContain(paid.id);
    expect(paidList.orders.map((o) => o.id)).not.toContain(made[0]);

    expect((await admin(w, "GET", "/admin/orders?status=NOPE")).status).toBe(400);
    expect((await admin(w, "GET", "/admin/orders?limit=0")).status).toBe(400);
    expect((await admin(w, "GET", "/admin/orders?cursor=%%%")).status).toBe(400);
  });
});

describe("GET /admin/orders/:id", () => {
  it("returns the order (the mini-program shape plus the payer's openid), its history, refunds, notifications and flags", async () => {
    const w = createWorld();
    const { order, user } = await paidOrder(w);
    const res = await admin(w, "GET", `/admin/orders/${order.id}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & { order: unknown; history: { from: string; to: string; source: string; at: string }[]; notifications: { eventType: string; outcome: string }[] };
    const mine = await w.request("GET", `/v1/orders/${order.id}`, { token: user.token });
    // The same order (plus the payer's openid); the buyer's read adds its shipping view, the admin detail has the full record beside it.
    const { shipping, ...mineOrder } = ((await mine.json()) as { order: { shipping: { status: string } } }).order;
    expect(body.order).toEqual({ ...mineOrder, openid: user.openid });
    expect(body.shipping).toMatchObject({ status: shipping.status });
    expect(body.history.map((h) => [h.from, h.to, h.source])).toEqual([
      ["CREATED", "PAYING", "api"],
      ["PAYING", "PAID", "notify"],
    ]);
    expect(body.history[0]!.at).toMatch(/Z$/);
    expect(body.notifications).toEqual([expect.objectContaining({ eventType: "TRANSACTION.SUCCESS", outcome: "applied" })]);
    expect(body).toMatchObject({ refunds: [], flags: [] });
    expect((await admin(w, "GET", "/admin/orders/ord_NOPE")).status).toBe(404);
    expect((await admin(w, "GET", "/admin/refunds/rfd_NOPE")).status).toBe(404);
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_FAILURE_LIMIT } from "../../src/admin/auth";
import { contentSecurityPolicy } from "../../src/routes/security";
import { ADMIN_TOKEN } from "../fixtures/keys";
import { ORIGIN, sessionCookieOf, signIn, signInRaw } from "../support/console";
import { count, paidAtWechat } from "../support/shop";
import { createWorld, type World } from "../support/world";
import { paidOrder } from "../unit/refunds/support";

async function addFlag(w: World): Promise<number> {
  const row = await env.DB.prepare("INSERT INTO flags (order_id, kind, detail, at) VALUES (NULL, 'amount_mismatch', '{}', ?) RETURNING id").bind(w.clock.now()).first<{ id: number }>();
  return row!.id;
}
const resolvedAt = (id: number) => env.DB.prepare("SELECT resolved_at AS r FROM flags WHERE id = ?").bind(id).first<{ r: number | null }>().then((x) => x?.r ?? null);

describe("console sign-in", () => {
  it("GET /admin → the sign-in page, which asks for name=token under a strict CSP", async () => {
    const w = createWorld();
    const res = await w.request("GET", "/admin");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/admin/ui/signin");
    const page = await w.request("GET", "/admin/ui/signin");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html><html lang="zh-CN">/);
    expect(html).toContain('name="token"');
    expect(html).toContain("登录后台");
    expect(html).not.toMatch(/<script(?![^>]*\bsrc="\/admin\/static\/console\.js")/);
    expect(html).not.toMatch(/\sstyle=|https?:\/\//);
    // The page's one script and one stylesheet carry this response's nonce; nothing else may run.
    const nonce = /<script src="\/admin\/static\/console\.js" nonce="([^"]+)"/.exec(html)?.[1];
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(html).toContain(`<link rel="stylesheet" href="/admin/static/console.css" nonce="${nonce}"/>`);
    expect(page.headers.get("content-security-policy")).toBe(contentSecurityPolicy(nonce!));
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("content-security-policy")).not.toContain("unsafe-inline");
    expect(page.headers.get("referrer-policy")).toBe("same-origin");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    // Pages behind the session redirect to the sign-in.
    const guarded = await w.request("GET", "/admin/ui/orders");
    expect(guarded.status).toBe(303);
    expect(guarded.headers.get("location")).toBe("/admin/ui/signin");
  });

  it("the right token → an 8 h HttpOnly, SameSite=Strict, Secure cookie on Path=/admin; then GET /admin → overview", async () => {
    const w = createWorld();
    const res = await signInRaw(w, ADMIN_TOKEN);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/ui/overview");
    const set = res.headers.get("set-cookie")!;
    expect(set).toMatch(/^wxe_console=[0-9A-Za-z]{24}\.\d+\.[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/admin; HttpOnly; Secure; SameSite=Strict$/);
    const cookie = sessionCookieOf(res);
    const home = await w.request("GET", "/admin", { headers: { cookie } });
    expect(home.headers.get("location")).toBe("/admin/ui/overview");
    const overview = await w.request("GET", "/admin/ui/overview", { headers: { cookie } });
    expect(overview.status).toBe(200);
    expect(await overview.text()).toContain("概览");
    // The secret never appears in what the browser gets.
    expect(set).not.toContain(ADMIN_TOKEN);
  });

  it("no Secure flag on plain-http localhost (development)", async () => {
    const w = createWorld();
    const res = await w.fetch(new Request("http://localhost:8787/admin/session", { method: "POST", body: `token=${ADMIN_TOKEN}`, headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost:8787" } }));
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).not.toContain("Secure");
    expect(res.headers.get("set-cookie")).toContain("HttpOnly");
  });

  it("a wrong token → 401 and the form again, no cookie; a sign-in from another origin → 403", async () => {
    const w = createWorld();
    for (const token of ["", "nope", `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(1)]) {
      const res = await signInRaw(w, token, { "cf-connecting-ip": "203.0.113.50" });
      expect(res.status, token).toBe(401);
      expect(res.headers.get("set-cookie")).toBeNull();
      const html = await res.text();
      expect(html).toContain("令牌不正确");
      expect(html).toContain('name="token"');
    }
    expect(w.logs.some((l) => l.includes("admin authentication failed") && l.includes("203.0.113.50"))).toBe(true);
    expect(w.logs.join("\n")).not.toContain(ADMIN_TOKEN);
    const forged = await signInRaw(w, ADMIN_TOKEN, { origin: "https://evil.example" });
    expect(forged.status).toBe(403);
    expect(forged.headers.get("set-cookie")).toBeNull();
  });

  it(`past ${ADMIN_FAILURE_LIMIT} failures a minute the address gets 429 with Retry-After, even with the right token; another address is unaffected`, async () => {
    const w = createWorld();
    const ip = { "cf-connecting-ip": "192.0.2.99" };
    for (let i = 0; i < ADMIN_FAILURE_LIMIT; i++) expect((await signInRaw(w, "guess", ip)).status).toBe(401);
    const blocked = await signInRaw(w, ADMIN_TOKEN, ip);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await blocked.text()).toContain("失败次数过多");
    const refusedCount = await count("SELECT count AS n FROM rate_limits WHERE key = 'admin:fail:192.0.2.99'");
    expect((await signInRaw(w, "guess", ip)).status).toBe(429);
    expect(await count("SELECT count AS n FROM rate_limits WHERE key = 'admin:fail:192.0.2.99'")).toBe(refusedCount); // a refusal writes nothing
    expect((await signInRaw(w, ADMIN_TOKEN, { "cf-connecting-ip": "192.0.2.100" })).status).toBe(303);
    w.clock.advance(60_000);
    expect((await signInRaw(w, ADMIN_TOKEN, ip)).status).toBe(303);
  });

  it("IPv6 addresses are counted per /64", async () => {
    const w = createWorld();
    for (let i = 0; i < ADMIN_FAILURE_LIMIT; i++) expect((await signInRaw(w, "guess", { "cf-connecting-ip": `2001:db8:1:2::${i.toString(16)}` })).status).toBe(401);
    expect((await signInRaw(w, ADMIN_TOKEN, { "cf-connecting-ip": "2001:db8:1:2:ffff::1" })).status).toBe(429);
    expect((await signInRaw(w, ADMIN_TOKEN, { "cf-connecting-ip": "2001:db8:1:3::1" })).status).toBe(303);
  });

  it("a forged, tampered or expired cookie is no session; rotating ADMIN_TOKEN ends every session", async () => {
    const w = createWorld();
    const c = await signIn(w);
    const [sid, exp, sig] = c.cookie.slice("wxe_console=".length).split(".") as [string, string, string];
    const tries = [
      `wxe_console=${sid}.${Number(exp) + 1000}.${sig}`,
      `wxe_console=${sid.replace(/^./, (x) => (x === "A" ? "B" : "A"))}.${exp}.${sig}`,
      `wxe_console=${sid}.${exp}.${sig.slice(0, -1)}${sig.endsWith("A") ? "B" : "A"}`,
      "wxe_console=garbage",
    ];
    for (const cookie of tries) expect((await w.request("GET", "/admin/ui/overview", { headers: { cookie } })).status, cookie).toBe(303);
    expect((await c.get("/admin/ui/overview")).status).toBe(200);
    w.clock.advance(8 * 3600_000);
    expect((await c.get("/admin/ui/overview")).status).toBe(303);
    const w2 = createWorld({ env: { ADMIN_TOKEN: "another-admin-token-0123456789abcdef" } });
    const c2 = await signIn(createWorld());
    expect((await w2.request("GET", "/admin/ui/overview", { headers: { cookie: c2.cookie } })).status).toBe(303);
  });

  it("sign-out clears the cookie (with the CSRF token)", async () => {
    const w = createWorld();
    const c = await signIn(w);
    const res = await c.post("/admin/signout", {});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/ui/signin");
    expect(res.headers.get("set-cookie")).toMatch(/^wxe_console=; Max-Age=0; Path=\/admin; HttpOnly; Secure; SameSite=Strict$/);
  });
});

describe("console forgery protection", () => {
  it("a state change without the CSRF token, with a wrong one, or from another origin → 403 and nothing done", async () => {
    const w = createWorld();
    const c = await signIn(w);
    const id = await addFlag(w);
    const path = `/admin/ui/flags/${id}/resolve`;
    const cases: [string, Parameters<typeof c.post>[2]][] = [
      ["no token", { csrf: null }],
      ["wrong token", { csrf: "x".repeat(43) }],
      ["another session's token", { csrf: (await signIn(w)).csrf.replace(/^./, "Z") }],
      ["other origin", { origin: "https://evil.example" }],
      ["no origin, no referer", { origin: null }],
    ];
    for (const [label, opts] of cases) {
      const res = await c.post(path, { note: "forged" }, opts);
      expect(res.status, label).toBe(403);
      expect(res.headers.get("content-security-policy")).toMatch(/^default-src 'none'; script-src 'nonce-[^']+'; .*frame-ancestors 'none'$/);
      expect(await resolvedAt(id), label).toBeNull();
    }
    // Without any session a POST is refused too.
    expect((await w.request("POST", path, { body: "note=x", headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN } })).status).toBe(403);
    expect(await resolvedAt(id)).toBeNull();
    const ok = await c.post(path, { note: "checked with WeChat support" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/admin/ui/flags?done=resolved");
    expect(await resolvedAt(id)).toBe(w.clock.now());
  });

  it("the JSON API accepts the console session: reads freely, changes only with X-CSRF-Token from our origin", async () => {
    const w = createWorld();
    const c = await signIn(w);
    expect((await c.get("/admin/stats?days=7")).status).toBe(200);
    const id = await addFlag(w);
    const post = (headers: Record<string, string>) =>
      w.request("POST", `/admin/flags/${id}/resolve`, { json: { note: "x" }, headers: { cookie: c.cookie, ...headers } });
    expect((await post({ origin: ORIGIN })).status).toBe(403);
    expect((await post({ origin: "https://evil.example", "x-csrf-token": c.csrf })).status).toBe(403);
    expect(await resolvedAt(id)).toBeNull();
    expect((await post({ origin: ORIGIN, "x-csrf-token": c.csrf })).status).toBe(200);
  });
  it("every state-changing admin route refuses a console session without CSRF (403, nothing done) and documents that 403", async () => {
    const w = createWorld();
    const c = await signIn(w);
    const { order, user, transactionId } = await paidAtWechat(w);
    await w.sim.flush();
    const doc = (await (await w.request("GET", "/openapi.json")).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    for (const [path, body, headers] of [
      [`/admin/orders/${order.id}/shipping`, { logisticsType: "virtual", parcels: [] }, { "idempotency-key": "csrf-ship" }],
      [`/admin/users/${user.userId}/revoke-sessions`, undefined, {}],
    ] as const) {
      const res = await w.request("POST", path, { ...(body ? { json: body } : {}), headers: { cookie: c.cookie, origin: ORIGIN, ...headers } });
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("forbidden");
      const template = path.replace(order.id, "{id}").replace(user.userId, "{id}");
      expect(Object.keys(doc.paths[template]!.post!.responses), template).toContain("403");
    }
    expect(w.sim.wx.shipping(transactionId)?.finishShippingCount ?? 0).toBe(0);
    expect(await count("SELECT count(*) AS n FROM shippings WHERE order_id = ?", order.id)).toBe(0);
  });
});

describe("console pages and actions", () => {
  it("a partial refund through the form (yuan → fen) reaches WeChat once, even submitted twice; too much → 409 and nothing sent", async () => {
    const w = createWorld();
    const c = await signIn(w);
    const { order } = await paidOrder(w); // ¥36.00
    const page = await (await c.get(`/admin/ui/orders/${order.id}`)).text();
    expect(page).toContain('data-max-fen="3600"');
    expect(page).toContain("¥36.00");
    const key = /name="idempotencyKey" value="([^"]+)"/.exec(page)![1]!;
    const fields = { amount: "10.50", reason: "破损", idempotencyKey: key };
    const first = await c.post(`/admin/ui/orders/${order.id}/refund`, fields);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe(`/admin/ui/orders/${order.id}?done=refunded`);
    expect((await c.post(`/admin/ui/orders/${order.id}/refund`, fields)).status).toBe(303);
    const sent = w.sim.listRefunds().filter((r) => r.outTradeNo === order.outTradeNo);
    expect(sent.map((r) => r.refund)).toEqual([1050]);
    const after = await (await c.get(`/admin/ui/orders/${order.id}?done=refunded`)).text();
    expect(after).toContain("退款已提交");
    expect(after).toContain('data-max-fen="2550"');
    expect(after).toMatch(/data-kind="refund"><time>[^<]+<\/time>退款 ¥10.50 · 破损/);

    const tooMuch = await c.post(`/admin/ui/orders/${order.id}/refund`, { amount: "25.51", reason: "", idempotencyKey: "k-too-much" });
    expect(tooMuch.status).toBe(409);
    expect(await tooMuch.text()).toContain("退款金额超过可退金额");
    for (const amount of ["1.234", "-1", "abc", "0"]) {
      expect((await c.post(`/admin/ui/orders/${order.id}/refund`, { amount, reason: "", idempotencyKey: `k-${amount}` })).status, amount).toBe(400);
    }
    expect(w.sim.listRefunds().filter((r) => r.outTradeNo === order.outTradeNo)).toHaveLength(1);
  });

  it("shipping: the form (logisticsType, trackingNo, expressCompany) records the shipment and uploads it to WeChat, once", async () => {
    const w = createWorld();
    const c = await signIn(w);
    const { order, transactionId } = await paidOrder(w);
    const page = await (await c.get(`/admin/ui/orders/${order.id}`)).text();
    for (const name of ["logisticsType", "trackingNo", "expressCompany"]) expect(page).toContain(`name="${name}"`);
    const key = [...page.matchAll(/name="idempotencyKey" value="([^"]+)"/g)].map((m) => m[1]!).find((k) => k.startsWith("sk_"))!;
    const bad = await c.post(`/admin/ui/orders/${order.id}/shipping`, { logisticsType: "express", trackingNo: "", expressCompany: "YTO", idempotencyKey: key });
    expect(bad.status).toBe(400);
    const fields = { logisticsType: "express", trackingNo: "YT1234567890", expressCompany: "YTO", idempotencyKey: key };
    const res = await c.post(`/admin/ui/orders/${order.id}/shipping`, fields);
    expect(res.status, /role="alert">([^<]*)/.exec(await res.clone().text())?.[1]).toBe(303);
    expect(res.headers.get("location")).toBe(`/admin/ui/orders/${order.id}?done=shipped`);
    expect((await c.post(`/admin/ui/orders/${order.id}/shipping`, fields)).status).toBe(303); // a double submit ships once
    expect(w.sim.wx.shipping(transactionId)).toMatchObject({ finishShippingCount: 1 });
    const after = await (await c.get(`/admin/ui/orders/${order.id}?done=shipped`)).text();
    expect(after).toContain("发货信息已提交");
    expect(after).toContain('data-shipping-status="SHIPPED"');
    expect(after).toContain("YTO YT1234567890");
    expect(after).not.toContain('name="trackingNo"');
  });

  it("orders: search by out_trade_no shows the row with data-order-id; the order page in English with ?lang=en, remembered", async () => {
    const w = createWorld();
    const c = await signIn(w);
    const { order } = await paidOrder(w);
    const list = await (await c.get(`/admin/ui/orders?q=${order.outTradeNo}`)).text();
    expect(list.match(/data-order-id="[^"]+"/g)).toEqual([`data-order-id="${order.id}"`]);
    expect(list).toContain(`href="/admin/orders.csv?q=${order.outTradeNo}"`);
    const en = await c.get(`/admin/ui/orders/${order.id}?lang=en`);
    expect(en.headers.get("set-cookie")).toContain("wxe_lang=en");
    const html = await en.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain("Refundable");
    expect(html).toContain("2026-11-29 20:00:00"); // 12:00 UTC shown in Asia/Shanghai
    const remembered = await c.get("/admin/ui/overview", { cookie: `${c.cookie}; wxe_lang=en` });
    expect(await remembered.text()).toContain("Overview");
    expect((await c.get("/admin/ui/orders/ord_missing")).status).toBe(404);
  });

  it("catalogue: a price typed in yuan is stored in fen; bad input → 400 and nothing changed", async () => {
    const w = createWorld();
    const c = await signIn(w);
    const ok = await c.post("/admin/ui/products/prod_tote", { name: "Canvas tote bag", description: "Heavy cotton canvas, printed logo", price: "45.9", sort: "40", active: "1" });
    expect(ok.status).toBe(303);
    expect(await count("SELECT price AS n FROM products WHERE id = 'prod_tote'")).toBe(4590);
    for (const price of ["45.999", "-1", "0", ""]) {
      expect((await c.post("/admin/ui/products/prod_tote", { name: "x", price, active: "1" })).status, price).toBe(400);
    }
    expect(await count("SELECT price AS n FROM products WHERE id = 'prod_tote'")).toBe(4590);
    const created = await c.post("/admin/ui/products", { id: "prod_console_t1", name: "月饼礼盒", price: "88", sort: "1", active: "1" });
    expect(created.status).toBe(303);
    expect(await count("SELECT price AS n FROM products WHERE id = 'prod_console_t1'")).toBe(8800);
    // Unticked "on sale" takes it off sale.
    await c.post("/admin/ui/products/prod_console_t1", { name: "月饼礼盒", price: "88" });
    expect(await count("SELECT active AS n FROM products WHERE id = 'prod_console_t1'")).toBe(0);
  });

  it("overview, flags, reconcile (run now) and bills pages render; run now records a run", async () => {
    const w = createWorld();
    const c = await signIn(w);
    for (const path of ["/admin/ui/overview", "/admin/ui/flags", "/admin/ui/flags?status=resolved", "/admin/ui/products", "/admin/ui/reconcile", "/admin/ui/bills?date=2026-11-28"]) {
      const res = await c.get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-security-policy")).toMatch(/^default-src 'none'; script-src 'nonce-[^']+'; .*frame-ancestors 'none'$/);
    }
    const runs = await count("SELECT COUNT(*) AS n FROM reconcile_runs");
    const ran = await c.post("/admin/ui/reconcile", {});
    expect(ran.headers.get("location")).toBe("/admin/ui/reconcile?done=ran");
    expect(await count("SELECT COUNT(*) AS n FROM reconcile_runs")).toBe(runs + 1);
    const overview = await (await c.get("/admin/ui/overview")).text();
    expect(overview).toContain("<svg");
    expect(overview).toMatch(/data-figure="gmvPaid"><span class="money">¥[\d,]+\.\d\d<\/span>/);
  });

  it("the static script and stylesheet are served by the Worker with nosniff", async () => {
    const w = createWorld();
    const js = await w.request("GET", "/admin/static/console.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await js.text()).toContain("data-max-fen");
    expect((await w.request("GET", "/admin/static/console.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
  });
});

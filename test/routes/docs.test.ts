import { describe, expect, it } from "vitest";
import { createHarness } from "../support/harness";
import { createWorld } from "../support/world";

describe("API documentation", () => {
  it("serves an OpenAPI 3 document generated from the route schemas", async () => {
    const h = createHarness();
    const res = await h.request("GET", "/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.paths["/v1/auth/login"]?.post?.responses).toHaveProperty("401");
    expect(doc.paths["/v1/products"]?.get).toBeDefined();
    // Every route of SPEC §3.
    const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes.sort()).toEqual(
      [
        "POST /v1/auth/login", "GET /v1/products", "POST /v1/orders", "POST /v1/orders/{id}/pay", "GET /v1/orders/{id}",
        "GET /v1/orders", "POST /v1/orders/{id}/cancel", "POST /v1/pay/notify", "GET /admin/orders", "GET /admin/orders/{id}",
        "POST /admin/orders/{id}/refunds", "GET /admin/refunds/{id}", "POST /admin/reconcile", "GET /admin/bills/{date}",
        "POST /admin/users/{id}/revoke-sessions", "GET /healthz", "GET /openapi.json", "GET /docs",
        "GET /v1/wx/push", "POST /v1/wx/push",
        "POST /v1/users/me/phone", "POST /v1/users/me/open-data", "POST /admin/orders/{id}/shipping",
        "GET /admin/stats", "GET /admin/orders.csv", "GET /admin/flags", "POST /admin/flags/{id}/resolve", "GET /admin/products",
        "POST /admin/products", "PATCH /admin/products/{id}", "GET /admin/reconcile/runs", "GET /admin", "POST /admin/session", "POST /admin/signout",
      ].sort(),
    );
  });

  it("every state-changing route behind admin auth documents what it answers there: 401, 403 (console CSRF/Origin), 429", async () => {
    type Op = { responses: Record<string, unknown>; security?: Record<string, unknown>[] };
    const doc = (await (await createHarness().request("GET", "/openapi.json")).json()) as { paths: Record<string, Record<string, Op>> };
    // Behind admin auth = the admin token or a console session (sign-in and sign-out are not).
    const admin = (op: Op) => (op.security ?? []).some((s) => "consoleSession" in s);
    const changes = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops).filter(([m, op]) => m !== "get" && admin(op)).map(([m, op]) => [`${m.toUpperCase()} ${p}`, Object.keys(op.responses)] as const),
    );
    expect(changes.length).toBeGreaterThanOrEqual(7);
    for (const [route, statuses] of changes) expect(statuses, route).toEqual(expect.arrayContaining(["401", "403", "429"]));
  });

  it("serves a browsable page that needs no CDN", async () => {
    const h = createHarness();
    const res = await h.request("GET", "/docs");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("openapi.json");
    expect(html).not.toMatch(/https?:\/\//);
  });
});

describe("HTTP hardening (SPEC §11)", () => {
  it("/docs: a CSP with a fresh nonce on its only script and style, nosniff, no framing", async () => {
    const h = createHarness();
    const res = await h.request("GET", "/docs");
    const csp = res.headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const html = await res.text();
    const tags = [...html.matchAll(/<(script|style)\b[^>]*>/g)].map((m) => m[0]);
    expect(tags.length).toBe(2);
    for (const t of tags) expect(t).toContain(`nonce="${nonce}"`);
    // No inline handlers or style attributes the policy would have to allow.
    expect(html).not.toMatch(/\son[a-z]+=|\sstyle=/);
    const again = await h.request("GET", "/docs");
    expect(again.headers.get("content-security-policy")).not.toBe(csp);
  });

  it("JSON that carries a token, an order or a user is no-store; the public catalogue is not", async () => {
    const w = createWorld();
    const u = await w.login();
    const login = await w.request("POST", "/v1/auth/login", { json: { code: w.sim.mintCode({ openid: u.openid }).code } });
    expect(login.status).toBe(200);
    expect(login.headers.get("cache-control")).toBe("no-store");
    expect(login.headers.get("x-content-type-options")).toBe("nosniff");
    const created = await w.request("POST", "/v1/orders", { json: { items: [{ productId: "prod_coffee", quantity: 1 }] }, token: u.token });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const { order } = (await created.json()) as { order: { id: string } };
    for (const path of [`/v1/orders/${order.id}`, "/v1/orders"]) {
      expect((await w.request("GET", path, { token: u.token })).headers.get("cache-control")).toBe("no-store");
    }
    const admin = await w.request("GET", `/admin/orders/${order.id}`, { headers: { authorization: `Bearer ${w.env.ADMIN_TOKEN}` } });
    expect(admin.status).toBe(200);
    expect(admin.headers.get("cache-control")).toBe("no-store");
    const denied = await w.request("GET", "/v1/orders");
    expect(denied.status).toBe(401);
    expect(denied.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await w.request("GET", "/v1/products")).headers.get("cache-control")).toBeNull();
  });
});

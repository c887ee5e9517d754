import { describe, expect, it } from "vitest";
import { createHarness } from "../support/harness";

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
        "GET /healthz", "GET /openapi.json", "GET /docs",
        "GET /v1/wx/push", "POST /v1/wx/push",
      ].sort(),
    );
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

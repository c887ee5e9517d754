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

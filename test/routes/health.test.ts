import { describe, expect, it } from "vitest";
import { createHarness } from "../support/harness";

describe("GET /healthz", () => {
  it("answers ok when D1 answers, with a request id", async () => {
    const h = createHarness();
    const res = await h.request("GET", "/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9A-Z]{20}$/);
  });

  it("answers 503 unavailable when D1 fails", async () => {
    const broken = { prepare: () => { throw new Error("D1_ERROR: no such database"); } };
    const h = createHarness({ env: { DB: broken } });
    const res = await h.request("GET", "/healthz");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe("unavailable");
    expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
  });
});

describe("GET /v1/products", () => {
  it("lists active products with integer fen prices, no inactive ones", async () => {
    const h = createHarness();
    const res = await h.request("GET", "/v1/products");
    expect(res.status).toBe(200);
    const { products } = (await res.json()) as { products: { id: string; price: number }[] };
    expect(products.map((p) => p.id)).toContain("prod_coffee");
    expect(products.map((p) => p.id)).not.toContain("prod_retired");
    for (const p of products) expect(Number.isInteger(p.price)).toBe(true);
  });
});

describe("unknown routes", () => {
  it("answer 404 not_found in the envelope", async () => {
    const h = createHarness();
    const res = await h.request("GET", "/nope");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});

// @vitest-environment node
/**
 * The example's API types (examples/miniprogram/miniprogram/api/openapi.d.ts) are generated from
 * the server's OpenAPI document by `npm run gen:client`. This fails while the committed file is
 * stale, i.e. a mini-program route changed and nobody regenerated the client.
 */
import { readFileSync } from "node:fs";
import { describe, expect, inject, it } from "vitest";
import { CLIENT_TYPES_PATH, generateClientTypes, miniProgramSubset, serverOpenApiDocument } from "../../scripts/gen-client.mjs";

describe("example mini program API client", () => {
  it("openapi.d.ts is up to date with the routes (run `npm run gen:client` if not)", async () => {
    const committed = readFileSync(CLIENT_TYPES_PATH, "utf8");
    const fresh = await generateClientTypes();
    expect(committed, "examples/miniprogram/miniprogram/api/openapi.d.ts is stale: run `npm run gen:client` and commit it").toBe(fresh);
  });

  it("is generated from the same document the running Worker serves at /openapi.json", async () => {
    const res = await fetch(`${inject("workerUrl")}/openapi.json`);
    expect(res.status).toBe(200);
    const served = (await res.json()) as Record<string, unknown>;
    expect(miniProgramSubset(served)).toEqual(miniProgramSubset(await serverOpenApiDocument()));
    const paths = Object.keys((miniProgramSubset(served) as { paths: Record<string, unknown> }).paths).sort();
    expect(paths).toEqual(["/v1/auth/login", "/v1/orders", "/v1/orders/{id}", "/v1/orders/{id}/cancel", "/v1/orders/{id}/pay", "/v1/products", "/v1/users/me/open-data", "/v1/users/me/phone"]);
  });
});

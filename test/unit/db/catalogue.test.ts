/**
 * SPEC §8, "production holds no demo data": the demo catalogue is seeds/demo-catalogue.sql, which
 * npm run dev, the demo, the bench and these tests apply after the migrations — no migration
 * writes a product, so a deployed database starts with none. The seed is idempotent.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const statements = (files: { queries: string[] }[] | undefined) => (files ?? []).flatMap((f) => f.queries);
const WRITES_PRODUCTS = /\b(insert|replace|update)\b[\s\S]*?\b(into\s+)?[`"[]?products\b/i;

async function products(): Promise<{ id: string; price: number; active: number }[]> {
  return (await env.DB.prepare("SELECT id, price, active FROM products ORDER BY sort").all<{ id: string; price: number; active: number }>()).results;
}

async function applySeed(): Promise<void> {
  for (const seed of env.TEST_SEEDS ?? []) await env.DB.batch(seed.queries.map((q) => env.DB.prepare(q)));
}

describe("the demo catalogue", () => {
  it("is written by no migration: a freshly migrated database has no products", () => {
    const migrations = statements(env.TEST_MIGRATIONS);
    expect(migrations.length).toBeGreaterThan(0);
    expect(migrations.some((q) => /create table `products`/i.test(q))).toBe(true);
    expect(migrations.filter((q) => WRITES_PRODUCTS.test(q))).toEqual([]);
  });

  it("comes from seeds/demo-catalogue.sql: six products, one of them inactive", async () => {
    expect((env.TEST_SEEDS ?? []).map((s) => s.name)).toEqual(["demo-catalogue.sql"]);
    const rows = await products();
    expect(rows.map((r) => r.id)).toEqual(["prod_coffee", "prod_tea", "prod_mooncake", "prod_tote", "prod_cent", "prod_retired"]);
    expect(rows.filter((r) => r.active === 0).map((r) => r.id)).toEqual(["prod_retired"]);
  });

  it("is idempotent and leaves products that exist as they are (a merchant's edits survive a re-run)", async () => {
    await env.DB.prepare("UPDATE products SET price = 2000 WHERE id = 'prod_coffee'").run();
    await applySeed();
    await applySeed();
    const rows = await products();
    expect(rows).toHaveLength(6);
    expect(rows.find((r) => r.id === "prod_coffee")?.price).toBe(2000);
  });
});

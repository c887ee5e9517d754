// Applies the real migrations, then the demo catalogue (seeds/demo-catalogue.sql, idempotent), to
// this test file's D1 (storage is isolated per file).
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS ?? []);
for (const seed of env.TEST_SEEDS ?? []) await env.DB.batch(seed.queries.map((q) => env.DB.prepare(q)));

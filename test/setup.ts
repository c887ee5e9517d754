// Applies the real migrations to this test file's D1 (storage is isolated per file; idempotent).
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS ?? []);

/**
 * Global setup of the browser tests (vitest.browser.config.ts): the whole system exactly like
 * `npm run dev` (scripts/dev-system.mjs), on free ports with its state in a temporary directory,
 * plus two open flags in its D1 for the flags inbox to show (flags come from money that did not
 * fit, which a healthy system does not produce on its own).
 */
import type { TestProject } from "vitest/node";
import { startTemporarySystem } from "../../scripts/dev-system.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    workerUrl: string;
    simUrl: string;
    adminToken: string;
  }
}

export const SEEDED_FLAG_KINDS = ["browser_test_flag", "browser_test_forgery"] as const;

export default async function setup(project: TestProject) {
  const t0 = Date.now();
  const log = (msg: string) => console.log(`[browser tests] ${msg}`);
  const system = await startTemporarySystem({ log });
  try {
    const now = Date.now();
    system.sql(
      `INSERT INTO flags (order_id, kind, detail, at) VALUES ${SEEDED_FLAG_KINDS.map((k) => `(NULL, '${k}', '{"note":"seeded by the browser test"}', ${now})`).join(", ")}`,
    );
  } catch (e) {
    await system.stop();
    throw e;
  }
  log(`system ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  project.provide("workerUrl", system.workerUrl);
  project.provide("simUrl", system.simUrl);
  project.provide("adminToken", system.adminToken ?? "");
  return async () => {
    await system.stop();
    log("system stopped");
  };
}

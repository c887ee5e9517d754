#!/usr/bin/env node
// `npm run dev`: the whole system locally, offline, in one command.
//  1. generates throwaway dev keys, `.dev.vars` (Worker secrets) and `.dev/simulator.json`
//     (the WeChat simulator's keys) if they do not exist — both git-ignored;
//  2. applies the D1 migrations to the local database, then the demo catalogue
//     (seeds/demo-catalogue.sql; idempotent: products that exist are left as they are);
//  3. starts the WeChat simulator (http://127.0.0.1:8788) and the Worker (http://127.0.0.1:8787).
// Ctrl-C stops both. `node scripts/dev.mjs --setup-only` does steps 1–2 and exits.
// The pieces live in scripts/dev-system.mjs (the mini-program tests start the same system).
import { join } from "node:path";
import { ensureDevFiles, migrateLocal, ROOT as root, seedDemoCatalogue, startSimulator, startWorker, systemEnv } from "./dev-system.mjs";

const WORKER_PORT = Number(process.env.WORKER_PORT ?? 8787);
const SIM_PORT = Number(process.env.SIM_PORT ?? 8788);
const env = systemEnv(join(root, ".dev", "config"));

const devVarsPath = join(root, ".dev.vars");
const simConfigPath = join(root, ".dev", "simulator.json");

if (await ensureDevFiles({ devVarsPath, simConfigPath, workerPort: WORKER_PORT, simPort: SIM_PORT })) {
  console.log("• generated throwaway dev keys: .dev.vars and .dev/simulator.json (git-ignored)");
} else {
  console.log("• using existing .dev.vars and .dev/simulator.json (delete both to regenerate)");
}

try {
  migrateLocal({ env });
  seedDemoCatalogue({ env });
} catch (e) {
  console.error(e.output);
  console.error(`✗ ${e.message}`);
  process.exit(1);
}
console.log("• local D1 migrated, demo catalogue inserted (.wrangler/state; seeds/demo-catalogue.sql)");
if (process.argv.includes("--setup-only")) process.exit(0);

const children = [];
function watch(name, child) {
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`✗ ${name} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0) {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

watch("simulator", startSimulator({ env, simConfigPath, simPort: SIM_PORT }));
watch(
  "worker",
  startWorker({ env, workerPort: WORKER_PORT, inspectorPort: 9329, ...(process.env.WRANGLER_LOG_LEVEL ? { logLevel: process.env.WRANGLER_LOG_LEVEL } : {}) }),
);

console.log(`
  Worker     http://127.0.0.1:${WORKER_PORT}   (API; docs at /docs, OpenAPI at /openapi.json)
  Simulator  http://127.0.0.1:${SIM_PORT}   (stands in for api.weixin.qq.com and api.mch.weixin.qq.com)
  Cron       curl "http://127.0.0.1:${WORKER_PORT}/cdn-cgi/handler/scheduled"
  Try it     npm run demo
`);

#!/usr/bin/env node
// `npm run dev`: the whole system locally, offline, in one command.
//  1. generates throwaway dev keys, `.dev.vars` (Worker secrets) and `.dev/simulator.json`
//     (the WeChat simulator's keys) if they do not exist — both git-ignored;
//  2. applies the D1 migrations to the local database;
//  3. starts the WeChat simulator (http://127.0.0.1:8788) and the Worker (http://127.0.0.1:8787).
// Ctrl-C stops both. `node scripts/dev.mjs --setup-only` does steps 1–2 and exits.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateDevSetup } from "./dev-keys.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const WORKER_PORT = Number(process.env.WORKER_PORT ?? 8787);
const SIM_PORT = Number(process.env.SIM_PORT ?? 8788);
const offline = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
  XDG_CONFIG_HOME: join(root, ".dev", "config"),
};
const env = { ...process.env, ...offline };
const wrangler = join(root, "node_modules", ".bin", "wrangler");

const devVarsPath = join(root, ".dev.vars");
const simConfigPath = join(root, ".dev", "simulator.json");
mkdirSync(join(root, ".dev"), { recursive: true });

if (!existsSync(devVarsPath) || !existsSync(simConfigPath)) {
  const { devVars, simulator } = await generateDevSetup({ workerPort: WORKER_PORT, simPort: SIM_PORT });
  writeFileSync(devVarsPath, devVars, { mode: 0o600 });
  writeFileSync(simConfigPath, JSON.stringify(simulator, null, 2), { mode: 0o600 });
  console.log("• generated throwaway dev keys: .dev.vars and .dev/simulator.json (git-ignored)");
} else {
  console.log("• using existing .dev.vars and .dev/simulator.json (delete both to regenerate)");
}

const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
if (migrate.status !== 0) {
  console.error(migrate.stdout, migrate.stderr);
  console.error("✗ applying local D1 migrations failed");
  process.exit(1);
}
console.log("• local D1 migrated (.wrangler/state)");
if (process.argv.includes("--setup-only")) process.exit(0);

const children = [];
function start(name, cmd, args, extraEnv = {}) {
  const child = spawn(cmd, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ["ignore", "inherit", "inherit"] });
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

start("simulator", process.execPath, ["--import", "tsx", join(root, "scripts", "simulator.mjs")], {
  SIM_CONFIG: simConfigPath,
  SIM_PORT: String(SIM_PORT),
});
start("worker", wrangler, ["dev", "--ip", "127.0.0.1", "--port", String(WORKER_PORT), "--inspector-port", "9329", ...(process.env.WRANGLER_LOG_LEVEL ? ["--log-level", process.env.WRANGLER_LOG_LEVEL] : [])]);

console.log(`
  Worker     http://127.0.0.1:${WORKER_PORT}   (API; docs at /docs, OpenAPI at /openapi.json)
  Simulator  http://127.0.0.1:${SIM_PORT}   (stands in for api.weixin.qq.com and api.mch.weixin.qq.com)
  Cron       curl "http://127.0.0.1:${WORKER_PORT}/cdn-cgi/handler/scheduled"
  Try it     npm run demo
`);

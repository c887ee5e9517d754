// The local system (WeChat simulator + Worker under `wrangler dev`) as reusable pieces, shared by
// `npm run dev` (scripts/dev.mjs: fixed ports, state in the repository) and the mini-program
// client tests (test/miniprogram/global-setup.ts: free ports, state in a temporary directory).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateDevSetup } from "./dev-keys.mjs";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");

/** Without these wrangler phones home (telemetry, Request.cf data, update check) and hangs offline. */
export const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

/** The environment for every wrangler / simulator child: offline, with wrangler's config dir moved. */
export function systemEnv(configHome) {
  return { ...process.env, ...OFFLINE_ENV, XDG_CONFIG_HOME: configHome };
}

/**
 * Writes throwaway keys to `devVarsPath` (Worker secrets and vars) and `simConfigPath` (the
 * simulator's keys) unless both exist. Returns true when it generated them.
 */
export async function ensureDevFiles({ devVarsPath, simConfigPath, workerPort, simPort }) {
  if (existsSync(devVarsPath) && existsSync(simConfigPath)) return false;
  mkdirSync(dirname(devVarsPath), { recursive: true });
  mkdirSync(dirname(simConfigPath), { recursive: true });
  const { devVars, simulator } = await generateDevSetup({ workerPort, simPort });
  // Development shows every log line (production default: info).
  writeFileSync(devVarsPath, `${devVars}LOG_LEVEL="debug"\n`, { mode: 0o600 });
  writeFileSync(simConfigPath, JSON.stringify(simulator, null, 2), { mode: 0o600 });
  return true;
}

/** The demo catalogue: local data only, never a migration (a deployed database starts empty). */
export const DEMO_CATALOGUE = join(ROOT, "seeds", "demo-catalogue.sql");

/** `wrangler d1 <command> DB --local [--persist-to …] [flags]`; throws with wrangler's output. */
function wranglerD1(command, flags, what, { env, persistTo, timeoutMs } = {}) {
  const args = ["d1", ...command, "DB", "--local", ...(persistTo ? ["--persist-to", persistTo] : []), ...flags];
  const r = spawnSync(WRANGLER, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", ...(timeoutMs ? { timeout: timeoutMs } : {}) });
  if (r.status !== 0) {
    const err = new Error(`${what} failed`);
    err.output = `${r.stdout ?? ""}\n${r.stderr ?? ""}\n${r.error ? String(r.error) : ""}`;
    throw err;
  }
}

/** Applies the D1 migrations to the local database (in `persistTo`, default `.wrangler/state`). */
export function migrateLocal(opts = {}) {
  wranglerD1(["migrations", "apply"], [], "applying local D1 migrations", opts);
}

/** Inserts the demo catalogue into the local database; products that exist are left as they are. */
export function seedDemoCatalogue(opts = {}) {
  wranglerD1(["execute"], ["--file", DEMO_CATALOGUE], "inserting the demo catalogue (seeds/demo-catalogue.sql)", opts);
}

/** Runs SQL against the local database (e.g. a test's fixture rows). */
export function executeLocalSql({ sql, ...opts }) {
  wranglerD1(["execute"], ["--command", sql], "wrangler d1 execute", { timeoutMs: 60_000, ...opts });
}

/** Starts the simulator (`node --import tsx scripts/simulator.mjs`). */
export function startSimulator({ env, simConfigPath, simPort, stdio = ["ignore", "inherit", "inherit"], detached = false }) {
  return spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "simulator.mjs")], {
    cwd: ROOT,
    env: { ...env, SIM_CONFIG: simConfigPath, SIM_PORT: String(simPort) },
    stdio,
    detached,
  });
}

/**
 * Starts `wrangler dev` (node_modules/.bin/wrangler directly, never npx, so stopping it stops its
 * workerd too). `envFile` replaces `.dev.vars`; `persistTo` replaces `.wrangler/state`.
 */
export function startWorker({ env, workerPort, inspectorPort, envFile, persistTo, logLevel, stdio = ["ignore", "inherit", "inherit"], detached = false }) {
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(workerPort), "--inspector-port", String(inspectorPort)];
  if (envFile) args.push("--env-file", envFile);
  if (persistTo) args.push("--persist-to", persistTo);
  if (logLevel) args.push("--log-level", logLevel);
  return spawn(WRANGLER, args, { cwd: ROOT, env, stdio, detached });
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once GET `url` answers `expectStatus`; rejects after `timeoutMs` whatever happens (a
 * connection that never answers included), or as soon as `isAlive()` says the server died.
 */
export async function waitForHttp(url, { timeoutMs = 60_000, expectStatus = 200, isAlive = () => true, onWait } = {}) {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last = "no answer";
  let done = false;
  let timer;
  const poll = (async () => {
    let nextNote = started + 15_000;
    while (!done && Date.now() < deadline) {
      if (!isAlive()) throw new Error(`${url}: the process serving it exited`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.status === expectStatus) return;
        last = `status ${res.status}`;
      } catch (e) {
        last = e instanceof Error ? `${e.message}${e.cause?.code ? ` (${e.cause.code})` : ""}` : String(e);
      }
      if (onWait && Date.now() >= nextNote) {
        onWait(`${url}: still waiting after ${Math.round((Date.now() - started) / 1000)} s (${last})`);
        nextNote += 15_000;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`);
  })();
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${url} not ready after ${timeoutMs} ms (${last}; hung)`)), timeoutMs + 5_000);
  });
  try {
    await Promise.race([poll, guard]);
  } finally {
    done = true;
    clearTimeout(timer);
    poll.catch(() => {});
  }
}

/** Reads one value from a `.dev.vars` file (dotenv format, `\n` escapes inside double quotes). */
export function readDevVar(path, name) {
  const text = readFileSync(path, "utf8");
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (!m || m[1] !== name) continue;
    let v = m[2].trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\n/g, "\n");
    else if (v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

/** Stops a child started with `detached: true`: SIGTERM to its whole process group, then SIGKILL. */
export async function stopGroup(child, { graceMs = 5_000 } = {}) {
  if (!child || child.pid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null;
  const kill = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  kill("SIGTERM");
  if (!exited) {
    await Promise.race([new Promise((r) => child.once("exit", r)), new Promise((r) => setTimeout(r, graceMs))]);
  }
  // Grandchildren (workerd) may outlive their parent: make sure the whole group is gone.
  await new Promise((r) => setTimeout(r, 200));
  kill("SIGKILL");
}

/**
 * The whole system exactly like `npm run dev`, but on free ports with all state (keys, D1,
 * wrangler's config) in a fresh temporary directory: for tests. `stop()` ends both process
 * groups (workerd included) and removes the directory.
 */
export async function startTemporarySystem({ log = () => {}, readyTimeoutMs = 90_000, logLevel = "warn" } = {}) {
  const { mkdtempSync, rmSync, openSync, closeSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "wxpay-edge-system-"));
  const [workerPort, simPort, inspectorPort] = await distinctFreePorts(3);
  const devVarsPath = join(dir, ".dev.vars");
  const simConfigPath = join(dir, "simulator.json");
  const persistTo = join(dir, "state");
  const env = { ...systemEnv(join(dir, "config")), TMPDIR: dir };
  await ensureDevFiles({ devVarsPath, simConfigPath, workerPort, simPort });
  log(`system: ${dir}; worker port ${workerPort}, simulator port ${simPort}, inspector port ${inspectorPort}`);
  migrateLocal({ env, persistTo, timeoutMs: 180_000 });
  seedDemoCatalogue({ env, persistTo, timeoutMs: 180_000 });
  log(`system: migrated D1, demo catalogue inserted`);

  const simLog = openSync(join(dir, "simulator.log"), "a");
  const workerLog = openSync(join(dir, "worker.log"), "a");
  const children = [];
  // If the parent dies without calling stop(), do not leave the system running.
  const killAll = () => {
    for (const c of children) {
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  };
  process.once("exit", killAll);
  // The children run in their own process groups, so a Ctrl-C does not reach them: pass it on.
  const onSignal = (signal) => {
    killAll();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const sig of signals) process.once(sig, onSignal);
  const stop = async () => {
    process.removeListener("exit", killAll);
    for (const sig of signals) process.removeListener(sig, onSignal);
    await Promise.all(children.map((c) => stopGroup(c)));
    for (const fd of [simLog, workerLog]) {
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
    }
    if (!process.env.KEEP_SYSTEM_DIR) rmSync(dir, { recursive: true, force: true });
  };
  const sim = startSimulator({ env, simConfigPath, simPort, stdio: ["ignore", simLog, simLog], detached: true });
  children.push(sim);
  const worker = startWorker({ env, workerPort, inspectorPort, envFile: devVarsPath, persistTo, logLevel, stdio: ["ignore", workerLog, workerLog], detached: true });
  children.push(worker);
  const alive = (c) => () => c.exitCode === null && c.signalCode === null;
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  const simUrl = `http://127.0.0.1:${simPort}`;
  try {
    await Promise.all([
      waitForHttp(`${simUrl}/__sim`, { timeoutMs: readyTimeoutMs, isAlive: alive(sim), onWait: log }),
      waitForHttp(`${workerUrl}/healthz`, { timeoutMs: readyTimeoutMs, isAlive: alive(worker), onWait: log }),
    ]);
  } catch (e) {
    const tail = (f) => {
      try {
        return readFileSync(join(dir, f), "utf8").slice(-3000);
      } catch {
        return "";
      }
    };
    const detail = `${e.message}\n--- simulator.log ---\n${tail("simulator.log")}\n--- worker.log ---\n${tail("worker.log")}`;
    await stop();
    throw new Error(detail);
  }
  log(`system: worker ${workerUrl}, simulator ${simUrl}`);
  const sql = (text) => executeLocalSql({ env, persistTo, sql: text });
  return { workerUrl, simUrl, adminToken: readDevVar(devVarsPath, "ADMIN_TOKEN"), dir, devVarsPath, pids: children.map((c) => c.pid), sql, stop };
}

async function distinctFreePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

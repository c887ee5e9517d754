// Child processes of the bench: start in their own process group, find the Worker's own workerd,
// read CPU time from /proc, and stop everything we started (also on failure or Ctrl-C).
import { spawn, execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, createWriteStream } from "node:fs";
import { createServer } from "node:net";

const started = [];
let cleaning = false;

/** Spawns `cmd` in its own process group (so stopping it stops wrangler's workerd children too). */
export function startProcess(name, cmd, args, { env, cwd, logFile, quiet = false }) {
  const out = createWriteStream(logFile);
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const entry = { name, child, logFile, exited: false };
  child.on("exit", (code, signal) => {
    entry.exited = true;
    if (!cleaning && !entry.stopping && !(quiet && code === 0)) console.error(`  ! ${name} exited (${signal ?? code}); its log: ${logFile}`);
  });
  started.push(entry);
  return entry;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Stops every process group we started: SIGTERM, then SIGKILL after a grace period. */
export async function stopAll() {
  cleaning = true;
  const groups = started.map((e) => e.child.pid).filter((pid) => pid !== undefined);
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGTERM");
    } catch {}
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && groups.some((pid) => groupAlive(pid))) await sleep(100);
  for (const pid of groups) {
    if (groupAlive(pid)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {}
    }
  }
}

function groupAlive(pgid) {
  // Any process whose process group is pgid (workerd may outlive wrangler).
  for (const p of listPids()) {
    const st = readStat(p);
    if (st && st.pgrp === pgid) return true;
  }
  return alive(pgid);
}

export function installCleanup() {
  const bail = async (why) => {
    console.error(`\n✗ ${why}: stopping everything the bench started`);
    await stopAll();
    process.exit(1);
  };
  process.on("SIGINT", () => void bail("interrupted"));
  process.on("SIGTERM", () => void bail("terminated"));
  process.on("uncaughtException", (e) => void bail(`uncaught: ${e?.stack ?? e}`));
  process.on("unhandledRejection", (e) => void bail(`unhandled rejection: ${e?.stack ?? e}`));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Free TCP ports on 127.0.0.1, chosen by the kernel. */
export async function freePorts(n) {
  const servers = [];
  const ports = [];
  for (let i = 0; i < n; i++) {
    const s = createServer();
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
    servers.push(s);
    ports.push(s.address().port);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function listPids() {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}

/** Fields of /proc/<pid>/stat we use (the comm field may contain spaces: split after ')'). */
export function readStat(pid) {
  let s;
  try {
    s = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = s.lastIndexOf(")");
  const comm = s.slice(s.indexOf("(") + 1, close);
  const f = s.slice(close + 2).split(" ");
  // f[0] = state (field 3); utime = field 14 → f[11]; stime = field 15 → f[12]
  return { pid, comm, ppid: Number(f[1]), pgrp: Number(f[2]), utime: Number(f[11]), stime: Number(f[12]) };
}

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) of one process, all threads, in ms. */
export function cpuMs(pid) {
  const st = readStat(pid);
  if (!st) throw new Error(`process ${pid} is gone`);
  return ((st.utime + st.stime) * 1000) / CLK_TCK;
}

export function descendants(rootPid) {
  const all = listPids().map(readStat).filter(Boolean);
  const out = [];
  const frontier = [rootPid];
  while (frontier.length) {
    const p = frontier.pop();
    for (const s of all) {
      if (s.ppid === p) {
        out.push(s);
        frontier.push(s.pid);
      }
    }
  }
  return out;
}

/** Does the process hold an open file under `dir`? (The Worker's workerd opens the D1 SQLite file.) */
function holdsFileUnder(pid, dir) {
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir)) return true;
    } catch {}
  }
  return false;
}

/**
 * wrangler dev runs two workerd processes: its proxy (serving --port) and the one running the
 * Worker. The Worker's own one is the workerd that has the local D1 database (under
 * `persistDir`) open — after at least one D1 query. Returns { worker, proxy } pids.
 */
export function findWorkerd(wranglerPid, persistDir) {
  const workerds = descendants(wranglerPid).filter((s) => s.comm === "workerd");
  const worker = workerds.filter((s) => holdsFileUnder(s.pid, persistDir));
  if (worker.length !== 1) {
    throw new Error(
      `expected exactly one workerd under wrangler ${wranglerPid} with ${persistDir} open, found ${worker.length} (workerd pids: ${workerds.map((s) => s.pid).join(", ")})`,
    );
  }
  const proxy = workerds.filter((s) => s.pid !== worker[0].pid);
  return { worker: worker[0].pid, proxy: proxy.map((s) => s.pid) };
}

/** Other heavy processes on the machine (vitest, workerd not ours): the numbers are noisy while they run. */
export function otherLoad(ourPids) {
  const mine = new Set(ourPids);
  return listPids()
    .map(readStat)
    .filter((s) => s && !mine.has(s.pid) && (s.comm === "workerd" || /vitest|esbuild/.test(cmdline(s.pid))))
    .map((s) => ({ pid: s.pid, comm: s.comm, cmd: cmdline(s.pid).slice(0, 120) }));
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

/** All pids in the process groups we started (to tell our workerd from other people's). */
export function ourPids() {
  const out = [process.pid];
  for (const e of started) if (e.child.pid) out.push(e.child.pid, ...descendants(e.child.pid).map((s) => s.pid));
  return out;
}

/** Stops one process group we started (e.g. the Worker, to seed its database while it is down). */
export async function stopProcess(entry) {
  const pid = entry.child.pid;
  entry.stopping = true;
  try {
    process.kill(-pid, "SIGTERM");
  } catch {}
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline && groupAlive(pid)) await sleep(100);
  if (groupAlive(pid)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
    await sleep(300);
  }
}

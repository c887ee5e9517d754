// @vitest-environment node
/**
 * `npm run simulator` (scripts/simulator.mjs) as the README documents it: SIM_CONFIG names the
 * configuration, SIM_PORT the port — even when the file names another one (the port `npm run dev`
 * is already using, for instance).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ensureDevFiles, freePort, startSimulator, stopGroup, systemEnv, waitForHttp } from "../../scripts/dev-system.mjs";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe("npm run simulator", () => {
  it("listens on SIM_PORT, not on the port in its configuration file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wxpay-edge-sim-"));
    const simConfigPath = join(dir, "simulator.json");
    const [filePort, simPort] = [await freePort(), await freePort()];
    await ensureDevFiles({ devVarsPath: join(dir, ".dev.vars"), simConfigPath, workerPort: await freePort(), simPort: filePort });
    const child = startSimulator({ env: systemEnv(join(dir, "config")), simConfigPath, simPort, stdio: ["ignore", "ignore", "ignore"], detached: true });
    cleanups.push(async () => {
      await stopGroup(child);
      rmSync(dir, { recursive: true, force: true });
    });
    await waitForHttp(`http://127.0.0.1:${simPort}/__sim/stats`, { timeoutMs: 30_000, isAlive: () => child.exitCode === null });
    expect((await fetch(`http://127.0.0.1:${simPort}/__sim/stats`)).status).toBe(200);
  });
});

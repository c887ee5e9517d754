// @vitest-environment node
/**
 * `worker-configuration.d.ts` (the Worker's `Env`) is generated from wrangler.toml by `npm run types`,
 * without `.dev.vars` (secret names would become required strings, and every developer's file
 * differs). This fails while the committed file lags wrangler.toml, e.g. a `[vars]` entry added
 * without regenerating (LOG_LEVEL, WX_TRADE_MANAGED and WX_ORDER_JUMP_PATH once were).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OFFLINE_ENV, ROOT, WRANGLER } from "../../scripts/dev-system.mjs";

/** The generated `interface Env { … }` (the rest is runtime types, or paths relative to the output). */
function envBlock(text: string): string {
  const m = /\tinterface Env \{\n[^}]*\}/.exec(text);
  if (!m) throw new Error("no Env interface in the generated types");
  return m[0];
}

describe("worker-configuration.d.ts", () => {
  it("is up to date with wrangler.toml (run `npm run types` if not)", () => {
    const dir = mkdtempSync(join(tmpdir(), "wxpay-edge-types-"));
    try {
      const out = join(dir, "worker-configuration.d.ts");
      const r = spawnSync(WRANGLER, ["types", out, "--strict-vars=false", "--env-file", "/dev/null"], {
        cwd: ROOT,
        env: { ...process.env, ...OFFLINE_ENV, XDG_CONFIG_HOME: join(dir, "config") },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      const committed = readFileSync(join(ROOT, "worker-configuration.d.ts"), "utf8");
      expect(envBlock(committed), "worker-configuration.d.ts is stale: run `npm run types` and commit it").toBe(envBlock(readFileSync(out, "utf8")));
      expect(committed.split("\n")[1]).toContain("--env-file /dev/null");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

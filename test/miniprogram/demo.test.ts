// @vitest-environment node
/**
 * `npm run demo` (scripts/demo.mjs) against the system the global setup started — the same run a
 * newcomer does against `npm run dev` — must pass; and without a running system it must say so.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { freePort, ROOT } from "../../scripts/dev-system.mjs";

function runDemo(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "scripts", "demo.mjs")], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });
}

describe("npm run demo", () => {
  it("passes against the running system, narrating every step without leaking secrets", async () => {
    const adminToken = inject("adminToken");
    const { code, out } = await runDemo({ WORKER_URL: inject("workerUrl"), SIM_URL: inject("simUrl"), ADMIN_TOKEN: adminToken });
    expect(code, out).toBe(0);
    expect(out).toContain("✓ demo passed");
    for (const s of ["POST /v1/auth/login → 200", "GET /v1/products → 200", "POST /v1/orders", "POST /__sim/pay → 200", "PAID", "PARTIALLY_REFUNDED"]) {
      expect(out).toContain(s);
    }
    // It ends by pointing at the console and saying how to sign in (never printing the token).
    expect(out).toMatch(new RegExp(`Operator console: ${inject("workerUrl")}/admin — sign in with the ADMIN_TOKEN you exported; this order is at ${inject("workerUrl")}/admin/ui/orders/ord_\\w+\\n*$`));
    expect(out).not.toContain(adminToken);
    expect(out).not.toMatch(/eyJ[\w-]{20,}\.[\w-]{20,}/); // no session token in full
  });

  it("tells the user to start `npm run dev` when nothing answers, and exits 1", async () => {
    const port = await freePort();
    const { code, out } = await runDemo({ WORKER_URL: `http://127.0.0.1:${port}`, SIM_URL: `http://127.0.0.1:${port}`, ADMIN_TOKEN: "x" });
    expect(code).toBe(1);
    expect(out).toContain("npm run dev");
  });
});

// One reconciliation run at a time (SPEC §8): the D1 lease, 409 reconcile_running, the cron skipping.
import { createScheduledController } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../../src/db/schema";
import { AppError } from "../../src/errors";
import { RUN_WALL_MS } from "../../src/reconcile/job";
import { LEASE_SLACK_MS, takeLease } from "../../src/reconcile/lease";
import { runReconciliation } from "../../src/reconcile/job";
import { runScheduled } from "../../src/scheduled";
import { wrapD1 } from "../support/chaos";
import { paidAtWechat } from "../support/shop";
import { createWorld, type World } from "../support/world";
import { admin, runJob } from "../unit/refunds/support";

function cron(w: World) {
  const controller = createScheduledController({ scheduledTime: w.clock.now(), cron: "* * * * *" });
  return runScheduled(w.env, w.deps, { scheduledTime: controller.scheduledTime, cron: controller.cron });
}

/** An order due for a query, and a fetch whose calls wait at a gate until `open()`. */
async function gatedWorld() {
  const w = createWorld();
  w.sim.addFault({ target: "notify", kind: "drop" });
  const { order } = await paidAtWechat(w);
  await w.sim.flush();
  w.clock.advance(61_000);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let inside!: () => void;
  const entered = new Promise<void>((resolve) => (inside = resolve));
  let calls = 0;
  const real = w.deps.fetch;
  w.deps.fetch = async (input, init) => {
    calls++;
    inside();
    await gate;
    return real(input, init);
  };
  return { w, order, open, entered, calls: () => calls };
}

const runsStored = async (w: World) => (await w.env.DB.prepare("SELECT count(*) AS n FROM reconcile_runs").first<{ n: number }>())!.n;

describe("reconciliation lease", () => {
  it("while a run holds it: POST /admin/reconcile → 409 reconcile_running naming its start; the cron skips and logs; afterwards runs proceed", async () => {
    const { w, order, open, entered, calls } = await gatedWorld();
    const startedAt = w.clock.now();
    const first = runJob(w);
    await entered; // the first run holds the lease and waits inside its WeChat query
    w.clock.advance(5_000);

    const res = await admin(w, "POST", "/admin/reconcile");
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("reconcile_running");
    expect(body.error.message).toContain(new Date(startedAt).toISOString());
    // Until the holder's lease expires at the latest (wall budget + slack, 5 s of it gone).
    expect(Number(res.headers.get("retry-after"))).toBe((RUN_WALL_MS + LEASE_SLACK_MS - 5_000) / 1000);

    expect(await cron(w)).toBeNull();
    expect(w.logs.some((l) => l.includes("cron skipped: another reconciliation run holds the lease"))).toBe(true);
    expect(calls()).toBe(1); // neither the 409 nor the skipped cron called WeChat
    expect(await runsStored(w)).toBe(1);

    open();
    const report = await first;
    expect(report.tasks.payingOrders).toMatchObject({ scanned: 1, changed: 1 });
    expect(w.sim.stats().calls[`GET /v3/pay/transactions/out-trade-no/${order.outTradeNo}`]).toBe(1);
    // Released: the next run proceeds at once.
    expect((await admin(w, "POST", "/admin/reconcile")).status).toBe(200);
    expect((await cron(w))!.runId).toBeGreaterThan(report.runId);
  });

  it("two runs started together: exactly one does the work, the other is refused", async () => {
    const { w, order, open, entered } = await gatedWorld();
    const before = await runsStored(w);
    let settled = 0;
    const all = Promise.allSettled([runJob(w), runJob(w)].map((p) => p.finally(() => settled++)));
    await entered;
    while (settled === 0) await new Promise((r) => setTimeout(r, 5));
    open();
    const [a, b] = await all;
    const outcomes = [a!, b!];
    const done = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(done).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(AppError);
    expect((refused[0]!.reason as AppError).code).toBe("reconcile_running");
    expect(w.sim.stats().calls[`GET /v3/pay/transactions/out-trade-no/${order.outTradeNo}`]).toBe(1);
    expect(await runsStored(w)).toBe(before + 1);
  });

  it("a run that died holding the lease blocks others only until its expiry, under a minute; then the next run proceeds", async () => {
    const w = createWorld();
    const db = drizzle(w.env.DB, { schema });
    const dead = await takeLease(db, { holder: "died-mid-run", trigger: "cron", now: w.clock.now(), ttlMs: RUN_WALL_MS + LEASE_SLACK_MS });
    if (!("runId" in dead)) throw new Error("lease not taken");
    expect(RUN_WALL_MS + LEASE_SLACK_MS).toBeLessThan(60_000);

    w.clock.advance(30_000);
    expect(await cron(w)).toBeNull();
    expect((await admin(w, "POST", "/admin/reconcile")).status).toBe(409);

    w.clock.advance(RUN_WALL_MS + LEASE_SLACK_MS - 30_000);
    const report = await cron(w);
    expect(report).not.toBeNull();
    expect(report!.runId).toBeGreaterThan(dead.runId);
    // The dead run's report row stays unfinished: visible as such, never overwritten.
    const row = await w.env.DB.prepare("SELECT finished_at FROM reconcile_runs WHERE id = ?").bind(dead.runId).first<{ finished_at: number | null }>();
    expect(row!.finished_at).toBeNull();
    // And the late holder cannot release the new run's lease.
    expect((await admin(w, "POST", "/admin/reconcile")).status).toBe(200);
  });

  it("a task that throws: the report is still written (with the error) and the lease released", async () => {
    const w = createWorld();
    const broken = wrapD1({
      prepare: (real, sql) => {
        if (sql.includes('from "orders"') && sql.includes('"orders"."next_check_at"')) throw new Error("D1_ERROR: simulated failure of the due-orders select");
        return real.prepare(sql);
      },
    });
    const report = await runReconciliation({ ...w.env, DB: broken } as Env, w.deps, { trigger: "admin" });
    expect(report.tasks.payingOrders.failed).toBe(1);
    expect(report.errors).toEqual(expect.arrayContaining([expect.objectContaining({ task: "payingOrders", message: expect.stringContaining("simulated") })]));
    const row = await w.env.DB.prepare("SELECT finished_at, report FROM reconcile_runs WHERE id = ?").bind(report.runId).first<{ finished_at: number; report: string }>();
    expect(row!.finished_at).not.toBeNull();
    expect(JSON.parse(row!.report).failed).toBeGreaterThanOrEqual(1);
    expect((await runJob(w)).runId).toBeGreaterThan(report.runId);
  });
});

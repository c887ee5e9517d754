// Its own file: storage is per test file, so the counts below see only this file's orders.
import { describe, expect, it } from "vitest";
import { count, paidAtWechat } from "../support/shop";
import { createWorld } from "../support/world";
import { runJob } from "../unit/refunds/support";

describe("reconciliation batch bound", () => {
  it("takes at most `limit` orders per run, oldest first; more pending orders converge over several runs", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "notify", kind: "drop", count: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await paidAtWechat(w)).order.id);
      w.clock.advance(1000);
    }
    await w.sim.flush();
    expect(await count("SELECT count(*) AS n FROM orders WHERE status = 'PAYING'")).toBe(7);
    w.clock.advance(61_000);

    const paidIds = async () =>
      (await w.env.DB.prepare("SELECT id FROM orders WHERE status = 'PAID'").all<{ id: string }>()).results.map((r) => r.id);

    const r1 = await runJob(w, { limits: { payingOrders: 3 } });
    expect(r1.tasks.payingOrders).toEqual({ scanned: 3, changed: 3, failed: 0 });
    expect((await paidIds()).sort()).toEqual(ids.slice(0, 3).sort()); // oldest first
    const r2 = await runJob(w, { limits: { payingOrders: 3 } });
    expect(r2.tasks.payingOrders.scanned).toBe(3);
    const r3 = await runJob(w, { limits: { payingOrders: 3 } });
    expect(r3.tasks.payingOrders).toEqual({ scanned: 1, changed: 1, failed: 0 });
    expect((await paidIds()).sort()).toEqual([...ids].sort());
    const r4 = await runJob(w, { limits: { payingOrders: 3 } });
    expect(r4.tasks.payingOrders.scanned).toBe(0);
    expect(await count("SELECT count(*) AS n FROM reconcile_runs")).toBe(4);
  });
});

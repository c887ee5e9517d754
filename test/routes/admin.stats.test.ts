import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { statsForDays } from "../../src/admin/stats";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../../src/db/schema";
import { wrapD1 } from "../support/chaos";
import { createWorld, type World } from "../support/world";
import { admin, paidOrder, postRefund } from "../unit/refunds/support";

interface Figures { orders: number; paid: number; gmvPaid: number; refunded: number; net: number }
interface StatsJson { days: number; from: string; to: string; totals: Figures; daily: (Figures & { date: string })[]; openFlags: number; lastRun: unknown; lastBillCheck: unknown }

async function stats(w: World, days: number): Promise<StatsJson> {
  const res = await admin(w, "GET", `/admin/stats?days=${days}`);
  expect(res.status).toBe(200);
  return (await res.json()) as StatsJson;
}

describe("GET /admin/stats", () => {
  it("orders, paid, GMV, refunds and net per Asia/Shanghai day, to the fen, computed by D1", async () => {
    const w = createWorld();
    // T0 = 2026-11-29 20:00 in Shanghai.
    const before = await stats(w, 2);
    expect(before).toMatchObject({ days: 2, from: "2026-11-28", to: "2026-11-29" });
    expect(before.totals).toEqual({ orders: 0, paid: 0, gmvPaid: 0, refunded: 0, net: 0 });

    const { order: a } = await paidOrder(w); // 2 × ¥18.00
    const { order: b } = await paidOrder(w, [{ productId: "prod_mooncake", quantity: 3 }]); // 3 × ¥12.88
    const r = await postRefund(w, b.id, { amount: 1 });
    await w.sim.settleRefund(r.body.refund!.outRefundNo, "SUCCESS");
    await w.sim.flush();
    await w.login().then((u) => w.request("POST", "/v1/orders", { token: u.token, json: { items: [{ productId: "prod_cent", quantity: 1 }] } }));

    w.clock.advance(5 * 3600_000); // 01:00 on 11-30 in Shanghai: a new day
    const { order: c } = await paidOrder(w, [{ productId: "prod_tea", quantity: 1 }]);
    const s = await stats(w, 2);
    expect(s).toMatchObject({ from: "2026-11-29", to: "2026-11-30" });
    expect(s.daily).toEqual([
      { date: "2026-11-29", orders: 3, paid: 2, gmvPaid: a.amount + b.amount, refunded: 1, net: a.amount + b.amount - 1 },
      { date: "2026-11-30", orders: 1, paid: 1, gmvPaid: c.amount, refunded: 0, net: c.amount },
    ]);
    expect(a.amount + b.amount).toBe(3600 + 3864);
    expect(s.totals).toEqual({ orders: 4, paid: 3, gmvPaid: 3600 + 3864 + 2500, refunded: 1, net: 3600 + 3864 + 2500 - 1 });
    const today = await stats(w, 1);
    expect(today.totals).toEqual({ orders: 1, paid: 1, gmvPaid: 2500, refunded: 0, net: 2500 });
    expect(today.daily).toHaveLength(1);
    expect((await stats(w, 30)).daily).toHaveLength(30);
  });

  it("one D1 batch of aggregates, whatever the number of orders (no per-row work)", async () => {
    const w = createWorld();
    const calls: string[] = [];
    const spy = wrapD1({
      batch: (real, s) => (calls.push(`batch:${s.length}`), real.batch(s)),
      prepare: (real, q) => (calls.push(q), real.prepare(q)),
    });
    await statsForDays(drizzle(spy, { schema }), w.clock.now(), 30);
    expect(calls.filter((c) => c.startsWith("batch"))).toEqual(["batch:6"]);
    expect(calls.filter((c) => c.includes("GROUP BY")).length).toBe(3);
  });

  it("open flags, the last reconciliation run and the last bill check", async () => {
    const w = createWorld();
    const base = (await stats(w, 1)).openFlags;
    await env.DB.prepare("INSERT INTO flags (order_id, kind, detail, at) VALUES (NULL, 'amount_mismatch', '{}', ?)").bind(w.clock.now()).run();
    await env.DB.prepare("INSERT INTO kv (key, value, updated_at) VALUES ('bill_check.last_date', '2026-11-28', 0), ('bill_check.2026-11-28', '{\"status\":\"checked\",\"rows\":3}', 0) ON CONFLICT (key) DO NOTHING").run();
    await admin(w, "POST", "/admin/reconcile");
    const s = await stats(w, 1);
    expect(s.openFlags).toBe(base + 1);
    expect(s.lastRun).toMatchObject({ trigger: "admin", failed: expect.any(Number) });
    expect(s.lastBillCheck).toEqual({ billDate: "2026-11-28", summary: { status: "checked", rows: 3 } });
  });

  it("days outside 1–90 or not a number → 400; no token → 401", async () => {
    const w = createWorld();
    for (const d of ["0", "91", "x", "1.5", "-3"]) expect((await admin(w, "GET", `/admin/stats?days=${d}`)).status, d).toBe(400);
    expect((await admin(w, "GET", "/admin/stats", { token: null })).status).toBe(401);
  });
});

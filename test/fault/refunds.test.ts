/**
 * Fault suite, refunds under concurrency and a flaky WeChat: many admins (or one double-clicking)
 * refund the same order at once while refund calls fail — some before WeChat acted, some after
 * ("did it happen?"). The total refunded never exceeds the amount paid, every refund ends equal
 * to WeChat's, and the order's refundedAmount/status follow.
 */
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/lib/random";
import * as keys from "../fixtures/keys";
import { allRefunds, runCron, truthDiff } from "../support/chaos";
import { paidAtWechat } from "../support/shop";
import { createWorld } from "../support/world";

const ADMIN = { authorization: `Bearer ${keys.ADMIN_TOKEN}` };
const MIN = 60_000;

describe("fault: concurrent refunds against a flaky WeChat", () => {
  it("12 concurrent refunds of 30% each: at most 3 go through, never above the amount paid; the cron settles the unknown ones", async () => {
    const fulfilled = new Map<string, number>();
    const w = createWorld({
      random: seededRandom(77),
      sim: { random: seededRandom(78), faultSeed: 79, refundAutoSettleMs: 2 * MIN },
      fulfil: async (o) => void fulfilled.set(o.id, (fulfilled.get(o.id) ?? 0) + 1),
    });
    const { order } = await paidAtWechat(w, [{ productId: "prod_tote", quantity: 2 }]); // 9800 fen
    await w.sim.flush();
    const path = "/v3/refund/domestic/refunds";
    w.sim.addFault({ target: "api", path, method: "POST", kind: "systemError", probability: 0.25, applied: true });
    w.sim.addFault({ target: "api", path, method: "POST", kind: "timeout", ms: 2, probability: 0.2, applied: true });
    w.sim.addFault({ target: "api", path, method: "POST", kind: "frequencyLimited", probability: 0.15 });

    const part = Math.floor(order.amount * 0.3);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        w.request("POST", `/admin/orders/${order.id}/refunds`, { json: { amount: part, reason: `click ${i}` }, headers: { ...ADMIN, "idempotency-key": `click-${i}` } }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => [201, 409, 502].includes(s)), statuses.join(",")).toBe(true);
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 409).length).toBeGreaterThanOrEqual(9);

    // Never above the amount paid, neither here nor at WeChat, at any point.
    const live = async () => (await allRefunds()).filter((r) => r.order_id === order.id && r.status !== "CLOSED").reduce((s, r) => s + r.amount, 0);
    expect(await live()).toBeLessThanOrEqual(order.amount);
    const atWechat = () => w.sim.listRefunds().filter((r) => r.outTradeNo === order.outTradeNo && r.status !== "CLOSED").reduce((s, r) => s + r.refund, 0);
    expect(atWechat()).toBeLessThanOrEqual(order.amount);

    // The admin retries the refused/unknown ones with the same keys, then the cron settles all.
    for (let i = 0; i < 12; i++) {
      if (statuses[i] !== 502) continue;
      await w.request("POST", `/admin/orders/${order.id}/refunds`, { json: { amount: part, reason: `click ${i}` }, headers: { ...ADMIN, "idempotency-key": `click-${i}` } });
    }
    expect(w.sim.listFaults().reduce((n, f) => n + f.hits, 0), "the refund faults never fired").toBeGreaterThan(0);
    console.log(`refund answers: ${statuses.join(",")}`);
    w.sim.clearFaults();
    for (let i = 0; i < 30; i++) {
      w.clock.advance(MIN);
      await w.sim.deliverDue();
      await runCron(w);
      expect(await live()).toBeLessThanOrEqual(order.amount);
      expect(atWechat()).toBeLessThanOrEqual(order.amount);
    }
    expect(await truthDiff(w, fulfilled, new Set([order.id]))).toEqual([]);
    const mine = (await allRefunds()).filter((r) => r.order_id === order.id);
    expect(mine.filter((r) => r.status === "PROCESSING")).toEqual([]);
    expect(mine.filter((r) => r.status === "SUCCESS").length).toBeGreaterThanOrEqual(1);
  });
});

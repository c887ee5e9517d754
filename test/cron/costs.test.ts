// Declared per-item costs (what a task asks the budget for) against what items really spend. Own file: nothing else due.
import { describe, expect, it } from "vitest";
import { FULFILMENT_COST } from "../../src/reconcile/fulfilments";
import { EXPIRED_ORDER_COST, PAYING_ORDER_COST } from "../../src/reconcile/orders";
import { cronCounted } from "../support/counting";
import { paidAtWechat } from "../support/shop";
import { createWorld } from "../support/world";

describe("declared item costs are upper bounds of what an item really spends", () => {
  it("a PAYING order paid at WeChat and an expired one closed", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "notify", kind: "drop", count: 10 });
    await paidAtWechat(w);
    await w.sim.flush();
    // A first run before the order is due: the once-a-day and once-per-12-h work (certificates,
    // shipping settings) happens here, so the runs below differ by the order alone.
    w.clock.advance(30_000);
    await cronCounted(w, w.deps.fetch, { env: { WORKERS_PLAN: "paid" } });
    w.clock.advance(31_000);
    const base = await cronCounted(w, w.deps.fetch, { env: { WORKERS_PLAN: "paid" } });
    expect(base.report.tasks.payingOrders).toMatchObject({ scanned: 1, changed: 1 });
    w.clock.advance(60_000);
    const idle = await cronCounted(w, w.deps.fetch, { env: { WORKERS_PLAN: "paid" } });
    expect(idle.report.tasks.payingOrders.scanned).toBe(0);
    // The query; the order's writes and its fulfilment in the same run.
    expect(base.report.budget.spent.subrequests - idle.report.budget.spent.subrequests).toBeLessThanOrEqual(PAYING_ORDER_COST.requests);
    expect(base.report.budget.spent.queries - idle.report.budget.spent.queries).toBeLessThanOrEqual(PAYING_ORDER_COST.queries + FULFILMENT_COST.queries);

    const u = await w.login();
    const res = await w.request("POST", "/v1/orders", { json: { items: [{ productId: "prod_tea", quantity: 1 }] }, token: u.token });
    const order = ((await res.json()) as { order: { expiresAt: string } }).order;
    w.clock.set(Date.parse(order.expiresAt) + 1000);
    const expired = await cronCounted(w, w.deps.fetch, { env: { WORKERS_PLAN: "paid" } });
    expect(expired.report.tasks.expiredOrders).toMatchObject({ scanned: 1, changed: 1 });
    expect(expired.report.budget.spent.subrequests - idle.report.budget.spent.subrequests).toBeLessThanOrEqual(EXPIRED_ORDER_COST.requests);
    expect(expired.report.budget.spent.queries - idle.report.budget.spent.queries).toBeLessThanOrEqual(EXPIRED_ORDER_COST.queries);
  });
});

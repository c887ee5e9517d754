// Declared shipping item costs (SHIPPING_COSTS) against what each kind of item really spends, counted
// by our own wrapper: a run with one item of a kind minus the idle run right after it. Own file: nothing else due.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PLAN_LIMITS, type ItemCost } from "../../src/reconcile/budget";
import { CRON_TIMEOUT_MS, RUN_WALL_MS } from "../../src/reconcile/job";
import { CLOSE_QUERIES } from "../../src/reconcile/lease";
import { SHIPPING_COSTS } from "../../src/shipping/cron";
import { cronCounted } from "../support/counting";
import { paidAtWechat } from "../support/shop";
import { createWorld, forgetAccessToken, type World } from "../support/world";

const calls = (w: World, api: string) => w.sim.stats().calls[`POST /wxa/sec/order/${api}`] ?? 0;

/** One run with the item, one idle run after it; what the item added, and the item run's report. */
async function measure(w: World, over: Record<string, string> = {}) {
  const run = () => {
    w.clock.advance(61_000);
    return cronCounted(w, w.deps.fetch, { env: { WORKERS_PLAN: "paid", ...over } });
  };
  const item = await run();
  const idle = await run();
  expect(idle.report.tasks.shipping.changed).toBe(0);
  expect(item.report.errors.filter((e) => e.task === "shipping")).toEqual([]);
  return { report: item.report, spent: { requests: item.requests - idle.requests, queries: item.queries - idle.queries } };
}

const within = (spent: ItemCost, declared: ItemCost) => {
  expect(spent.requests).toBeLessThanOrEqual(declared.requests);
  expect(spent.queries).toBeLessThanOrEqual(declared.queries);
};

const due = (orderId: string, now: number, outcomeUnknown = false) =>
  env.DB.prepare(
    "INSERT INTO shippings (order_id, status, logistics_type, parcels, source, attempts, outcome_unknown, next_attempt_at, created_at, updated_at) " +
      "VALUES (?1, 'UPLOADING', 'virtual', '[{\"itemDesc\":\"Pour-over coffee*2\"}]', 'admin', 1, ?2, ?3, ?3, ?3)",
  )
    .bind(orderId, outcomeUnknown ? 1 : 0, now)
    .run();

describe("declared shipping item costs are upper bounds of what an item really spends", () => {
  it("every kind of item fits an empty free-plan run (its requests' timeouts within the wall time), so none starves", () => {
    for (const c of Object.values(SHIPPING_COSTS)) {
      expect(c.requests * CRON_TIMEOUT_MS).toBeLessThanOrEqual(RUN_WALL_MS);
      expect(c.requests).toBeLessThanOrEqual(PLAN_LIMITS.free.subrequests);
      expect(c.queries).toBeLessThanOrEqual(PLAN_LIMITS.free.queries - CLOSE_QUERIES);
    }
  });

  it("settings, uploads (with a token fetch, an unknown outcome, a rejected token), a get_order refresh, an overdue flag", async () => {
    const w = createWorld({ env: { ORDER_RATE_LIMIT: "0" }, sim: { push: undefined } });
    const [a, b, c] = [await paidAtWechat(w), await paidAtWechat(w), await paidAtWechat(w)];
    await w.sim.flush();
    // Warm up: fulfilments, certificates, is_trade_managed; the runs below differ by one item each.
    await measure(w);

    // is_trade_managed (WX_TRADE_MANAGED=auto), the access token fetched first.
    await env.DB.prepare("DELETE FROM kv WHERE key LIKE 'wechat:trade_managed:%'").run();
    await forgetAccessToken();
    const managed = await measure(w);
    expect(managed.report.tasks.shipping.changed).toBe(1);
    within(managed.spent, SHIPPING_COSTS.setting);

    // set_msg_jump_path when WX_ORDER_JUMP_PATH changed.
    await forgetAccessToken();
    const stats0 = w.sim.wx.tokenStats().stableTokenCalls;
    const jump = await measure(w, { WX_ORDER_JUMP_PATH: "pages/order/index" });
    expect(jump.report.tasks.shipping.changed).toBe(1);
    expect(w.sim.wx.tokenStats().stableTokenCalls).toBe(stats0 + 1);
    within(jump.spent, SHIPPING_COSTS.setting);

    // A due upload, the token fetched first.
    await forgetAccessToken();
    await due(a.order.id, w.clock.now());
    const upload = await measure(w);
    expect(await shippingStatus(a.order.id)).toBe("SHIPPED");
    expect(calls(w, "upload_shipping_info")).toBe(1);
    within(upload.spent, SHIPPING_COSTS.upload);

    // An upload whose last outcome is unknown, with the stored token expired at WeChat: get_order
    // (rejected, a new token, again), then the upload.
    await due(b.order.id, w.clock.now(), true);
    w.sim.wx.expireTokens();
    const unknown = await measure(w);
    expect(await shippingStatus(b.order.id)).toBe("SHIPPED");
    expect(calls(w, "get_order")).toBe(2);
    expect(calls(w, "upload_shipping_info")).toBe(2);
    expect(unknown.spent.requests).toBeGreaterThan(upload.spent.requests);
    within(unknown.spent, SHIPPING_COSTS.uploadAfterUnknown);

    // A SHIPPED record due for its get_order refresh, the token fetched first.
    await forgetAccessToken();
    await env.DB.prepare("UPDATE shippings SET next_attempt_at = ? WHERE order_id = ?").bind(w.clock.now(), a.order.id).run();
    const refresh = await measure(w);
    expect(calls(w, "get_order")).toBe(3);
    within(refresh.spent, SHIPPING_COSTS.refresh);

    // A paid order unshipped for 36 h.
    const longAgo = w.clock.now() - 37 * 3600_000;
    await env.DB.prepare("UPDATE orders SET created_at = ?1, paid_at = ?1 WHERE id = ?2").bind(longAgo, c.order.id).run();
    const overdue = await measure(w);
    expect(overdue.report.tasks.shipping.changed).toBe(1);
    within(overdue.spent, SHIPPING_COSTS.overdue);
  });
});

async function shippingStatus(orderId: string): Promise<string | undefined> {
  return (await env.DB.prepare("SELECT status FROM shippings WHERE order_id = ?").bind(orderId).first<{ status: string }>())?.status;
}

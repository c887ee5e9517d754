import { createScheduledController } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runScheduled } from "../../src/scheduled";
import { count, getOrder, paidAtWechat, placeOrder } from "../support/shop";
import { createWorld, type World } from "../support/world";
import { admin, adminOrder, runJob } from "../unit/refunds/support";

const MIN = 60_000;
const closeKey = (no: string) => `POST /v3/pay/transactions/out-trade-no/${no}/close`;
const queryKey = (no: string) => `GET /v3/pay/transactions/out-trade-no/${no}`;

function cron(w: World) {
  const controller = createScheduledController({ scheduledTime: w.clock.now(), cron: "* * * * *" });
  return runScheduled(w.env, w.deps, { scheduledTime: controller.scheduledTime, cron: controller.cron });
}

describe("reconciliation: PAYING orders", () => {
  it("a paid order whose notification was dropped becomes PAID after the cron run (source cron), and is fulfilled", async () => {
    const fulfilled: string[] = [];
    const w = createWorld({ fulfil: async (o) => void fulfilled.push(o.id) });
    w.sim.addFault({ target: "notify", kind: "drop", eventType: "TRANSACTION.SUCCESS" });
    const { user, order, transactionId } = await paidAtWechat(w);
    await w.sim.flush();
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAYING");

    w.clock.advance(30_000);
    await cron(w); // not due yet: first check 60 s after prepay
    expect(w.sim.stats().calls[queryKey(order.outTradeNo)] ?? 0).toBe(0);

    w.clock.advance(31_000);
    const report = await cron(w);
    expect(report).not.toBeNull();
    const got = await getOrder(w, user.token, order.id);
    expect(got).toMatchObject({ status: "PAID", transactionId });
    expect(report!.tasks.payingOrders.changed).toBeGreaterThanOrEqual(1);
    const detail = await adminOrder(w, order.id);
    expect(detail.history.at(-1)).toMatchObject({ from: "PAYING", to: "PAID", source: "cron" });
    expect(fulfilled).toEqual([order.id]); // the fulfilment task of the same run
    const run = await w.env.DB.prepare("SELECT trigger, finished_at, report FROM reconcile_runs WHERE id = ?").bind(report!.runId).first<{ trigger: string; finished_at: number; report: string }>();
    expect(run!.trigger).toBe("cron");
    expect(JSON.parse(run!.report)).toMatchObject({ runId: report!.runId, scanned: report!.scanned, changed: report!.changed });
  });

  it("an unpaid order is queried, then backed off (2 min), not queried again before", async () => {
    const w = createWorld();
    const u = await w.login();
    const { order } = await placeOrder(w, u.token);
    w.clock.advance(61_000);
    await runJob(w);
    expect(w.sim.stats().calls[queryKey(order.outTradeNo)]).toBe(1);
    w.clock.advance(MIN);
    await runJob(w);
    expect(w.sim.stats().calls[queryKey(order.outTradeNo)]).toBe(1);
    w.clock.advance(MIN);
    await runJob(w);
    expect(w.sim.stats().calls[queryKey(order.outTradeNo)]).toBe(2);
    expect((await getOrder(w, u.token, order.id)).status).toBe("PAYING");
  });

  it("a failing query is recorded in the report and does not stop the run", async () => {
    const w = createWorld();
    const u = await w.login();
    const a = (await placeOrder(w, u.token)).order;
    const paid = await paidAtWechat(w);
    w.clock.advance(61_000);
    w.sim.addFault({ target: "api", path: `/v3/pay/transactions/out-trade-no/${a.outTradeNo}`, kind: "status", status: 500, code: "SYSTEM_ERROR", count: 100 });
    const report = await runJob(w);
    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(report.errors).toEqual(expect.arrayContaining([expect.objectContaining({ task: "payingOrders", id: a.id })]));
    expect((await getOrder(w, paid.user.token, paid.order.id)).status).toBe("PAID");
  });
});

describe("reconciliation: expired orders", () => {
  it("unpaid past expiresAt → queried, closed at WeChat, CLOSED with source cron", async () => {
    const w = createWorld();
    const u = await w.login();
    const { order } = await placeOrder(w, u.token);
    w.clock.set(Date.parse(order.expiresAt) + 1000);
    await cron(w);
    const got = await getOrder(w, u.token, order.id);
    expect(got.status).toBe("CLOSED");
    expect(w.sim.getTransaction(order.outTradeNo)!.state).toBe("CLOSED");
    expect(w.sim.stats().calls[closeKey(order.outTradeNo)]).toBe(1);
    expect((await adminOrder(w, order.id)).history.at(-1)).toMatchObject({ from: "PAYING", to: "CLOSED", source: "cron" });
    // Nothing left to do for it.
    w.clock.advance(10 * MIN);
    await cron(w);
    expect(w.sim.stats().calls[closeKey(order.outTradeNo)]).toBe(1);
  });

  it("paid (notification lost) and past expiresAt → PAID, never closed", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "notify", kind: "drop" });
    const { user, order } = await paidAtWechat(w);
    await w.sim.flush();
    w.clock.set(Date.parse(order.expiresAt) + 1000);
    await runJob(w);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAID");
    expect(w.sim.stats().calls[closeKey(order.outTradeNo)] ?? 0).toBe(0);
  });

  it("close/pay race: the user pays between our query and our close → close refused (ORDER_PAID) → query → PAID", async () => {
    const w = createWorld();
    const u = await w.login();
    const { order, payment } = await placeOrder(w, u.token);
    const expiresAt = Date.parse(order.expiresAt);
    const original = w.deps.fetch;
    let raced = false;
    w.deps.fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!raced && url.pathname.endsWith("/close")) {
        raced = true;
        // The user's payment lands just before WeChat sees our close.
        const now = w.clock.now();
        w.clock.set(expiresAt - 1000);
        const paid = await w.sim.pay(payment as never, { openid: u.openid });
        w.clock.set(now);
        if (!paid.ok) throw new Error(paid.errMsg);
      }
      return original(input, init);
    };
    w.clock.set(expiresAt + 1000);
    const report = await runJob(w);
    expect(raced).toBe(true);
    expect((await getOrder(w, u.token, order.id)).status).toBe("PAID");
    expect(w.sim.getTransaction(order.outTradeNo)!.state).toBe("SUCCESS");
    expect(w.sim.stats().calls[queryKey(order.outTradeNo)]).toBe(2);
    expect(report.errors.filter((e) => e.id === order.id)).toEqual([]);
    expect((await adminOrder(w, order.id)).history.at(-1)).toMatchObject({ from: "PAYING", to: "PAID", source: "cron" });
  });

  it("an order that never reached WeChat (prepay failed) expires to CLOSED without a close call", async () => {
    const w = createWorld();
    const u = await w.login();
    w.sim.addFault({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "status", status: 400, code: "PARAM_ERROR", count: 10 });
    const res = await w.request("POST", "/v1/orders", { json: { items: [{ productId: "prod_tea", quantity: 1 }] }, token: u.token });
    expect(res.status).toBe(502);
    const [row] = (await w.env.DB.prepare("SELECT id, out_trade_no, expires_at FROM orders WHERE user_id = ?").bind(u.userId).all<{ id: string; out_trade_no: string; expires_at: number }>()).results;
    w.clock.set(row!.expires_at + 1000);
    await runJob(w);
    expect(await count("SELECT count(*) AS n FROM orders WHERE id = ? AND status = 'CLOSED'", row!.id)).toBe(1);
    expect(w.sim.stats().calls[closeKey(row!.out_trade_no)] ?? 0).toBe(0);
  });
});

describe("POST /admin/reconcile", () => {
  it("runs the job now and returns its report", async () => {
    const w = createWorld();
    w.sim.addFault({ target: "notify", kind: "drop" });
    const { user, order } = await paidAtWechat(w);
    await w.sim.flush();
    w.clock.advance(61_000);
    const res = await admin(w, "POST", "/admin/reconcile");
    expect(res.status).toBe(200);
    const { report } = (await res.json()) as { report: Record<string, unknown> & { tasks: Record<string, { scanned: number }> } };
    expect(report).toMatchObject({ trigger: "admin", startedAt: new Date(w.clock.now()).toISOString() });
    for (const k of ["scanned", "changed", "failed", "finishedAt", "durationsMs", "errors", "bill", "runId"]) expect(report).toHaveProperty(k);
    expect(report.tasks.payingOrders!.scanned).toBeGreaterThanOrEqual(1);
    expect((await getOrder(w, user.token, order.id)).status).toBe("PAID");
    expect((await admin(w, "POST", "/admin/reconcile", { token: null })).status).toBe(401);
  });
});

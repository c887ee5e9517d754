// The daily trade-bill check against the simulator's bill (its own transactions and refunds).
import { describe, expect, it } from "vitest";
import { paidAtWechat } from "../support/shop";
import { createWorld } from "../support/world";
import { T0 } from "../support/harness";
import { admin, adminOrder, paidOrder, postRefund, runJob } from "../unit/refunds/support";

// T0 is 2026-11-29 20:00 in Asia/Shanghai; the bill for 2026-11-29 is checked from 2026-11-30 10:30 there.
const NEXT_DAY_1029 = Date.UTC(2026, 10, 30, 2, 29);
const NEXT_DAY_1031 = Date.UTC(2026, 10, 30, 2, 31);
const QUIET = { payingOrders: 0, expiredOrders: 0, refunds: 0 };

describe("daily bill check", () => {
  it("finds missing_local, missing_remote, amount and refund status differences; stores and shows them; runs once", async () => {
    const w = createWorld();
    expect(T0).toBe(Date.UTC(2026, 10, 29, 12));
    const a = await paidOrder(w); // will have a wrong local amount
    const d = await paidOrder(w); // refunded twice: one matches, one is still PROCESSING locally
    w.sim.addFault({ target: "notify", kind: "drop" });
    const b = await paidAtWechat(w); // paid at WeChat, notification lost
    await w.sim.flush();
    const c = (await paidAtWechat(w)).order; // paid at WeChat, notification never delivered
    // "ghost": placed, never paid, but held as PAID here (what a bug or a bad manual edit does).
    const u = await w.login();
    const res = await w.request("POST", "/v1/orders", { json: { items: [{ productId: "prod_tea", quantity: 1 }] }, token: u.token });
    const ghost = ((await res.json()) as { order: { id: string; outTradeNo: string } }).order;
    await w.env.DB.prepare("UPDATE orders SET status = 'PAID', paid_at = ?, transaction_id = 'ghost-tx' WHERE id = ?").bind(T0 + 5000, ghost.id).run();
    await w.env.DB.prepare("UPDATE orders SET amount = amount + 1 WHERE id = ?").bind(a.order.id).run();

    const r1 = (await postRefund(w, d.order.id, { amount: 500 })).body.refund!;
    const r2 = (await postRefund(w, d.order.id, { amount: 700 })).body.refund!;
    await w.sim.settleRefund(r1.outRefundNo, "SUCCESS");
    w.clock.advance(2 * 60_000);
    await runJob(w, { limits: { payingOrders: 0, expiredOrders: 0 } }); // r1 → SUCCESS locally
    await w.sim.settleRefund(r2.outRefundNo, "SUCCESS"); // r2: SUCCESS at WeChat, PROCESSING here

    w.clock.set(NEXT_DAY_1029);
    expect((await runJob(w, { limits: QUIET })).bill).toEqual({ status: "not_due", billDate: null });

    w.clock.set(NEXT_DAY_1031);
    const report = await runJob(w, { limits: QUIET });
    expect(report.bill).toMatchObject({ status: "checked", billDate: "2026-11-29", consistent: true });
    expect(report.bill.diffs).toEqual({ amount_mismatch: 1, missing_local: 2, missing_remote: 1, status_mismatch: 1 });

    const res2 = await admin(w, "GET", "/admin/bills/2026-11-29");
    expect(res2.status).toBe(200);
    const body = (await res2.json()) as { check: { rows: number; consistent: boolean }; diffs: { kind: string; outTradeNo: string | null; outRefundNo: string | null }[] };
    expect(body.check).toMatchObject({ consistent: true });
    const kinds = body.diffs.map((x) => [x.kind, x.outTradeNo ?? x.outRefundNo]);
    expect(kinds).toEqual(
      expect.arrayContaining([
        ["amount_mismatch", a.order.outTradeNo],
        ["missing_local", b.order.outTradeNo],
        ["missing_local", c.outTradeNo],
        ["missing_remote", ghost.outTradeNo],
        ["status_mismatch", d.order.outTradeNo],
      ]),
    );
    expect(body.diffs.find((x) => x.kind === "status_mismatch")!.outRefundNo).toBe(r2.outRefundNo);
    // Flags for a human, on the orders.
    const flags = await w.env.DB.prepare("SELECT kind FROM flags WHERE order_id = ?").bind(ghost.id).all<{ kind: string }>();
    expect(flags.results.map((f) => f.kind)).toContain("bill_missing_remote");
    // The orders WeChat lists as paid were queried and converged through the one path.
    expect((await adminOrder(w, b.order.id)).order.status).toBe("PAID");
    expect((await adminOrder(w, c.id)).history.at(-1)).toMatchObject({ to: "PAID", source: "cron" });

    // Once a day: the next run does not fetch the bill again.
    const fetched = w.sim.stats().calls["GET /v3/bill/tradebill"];
    w.clock.advance(60_000);
    expect((await runJob(w, { limits: QUIET })).bill).toMatchObject({ status: "already_checked", billDate: "2026-11-29" });
    expect(w.sim.stats().calls["GET /v3/bill/tradebill"]).toBe(fetched);
  });

  it("a day whose bill is not out (400 NO_STATEMENT_EXIST) is 'not_ready' and retried later", async () => {
    const w = createWorld();
    const res = await admin(w, "POST", "/admin/reconcile?billDate=2026-11-20");
    expect(res.status).toBe(200);
    const { report } = (await res.json()) as { report: { bill: unknown; failed: number } };
    expect(report.bill).toEqual({ status: "not_ready", billDate: "2026-11-20" });
    expect((await admin(w, "GET", "/admin/bills/2026-11-20")).status).toBe(200);
    expect((await admin(w, "POST", "/admin/reconcile?billDate=20-11-2026")).status).toBe(400);

    // The due date (yesterday) not out yet: the cron waits 10 min between tries, an operator does not.
    w.clock.set(Date.UTC(2026, 11, 5, 2, 31)); // 2026-12-05 10:31 in Shanghai
    expect((await runJob(w, { trigger: "cron" })).bill).toEqual({ status: "not_ready", billDate: "2026-12-04" });
    w.clock.advance(60_000);
    expect((await runJob(w, { trigger: "cron" })).bill).toEqual({ status: "waiting", billDate: "2026-12-04" });
    expect((await runJob(w, { trigger: "admin" })).bill).toEqual({ status: "not_ready", billDate: "2026-12-04" });
    w.clock.advance(10 * 60_000);
    expect((await runJob(w, { trigger: "cron" })).bill).toEqual({ status: "not_ready", billDate: "2026-12-04" });
  });

  it("an operator's check of another date (not out yet, or failing) does not make the cron wait with the due one", async () => {
    const w = createWorld();
    // Storage is shared by this file's tests: a day after the previous test's retry timer.
    w.clock.set(Date.UTC(2026, 11, 6, 2, 31)); // 2026-12-06 10:31 in Shanghai: 2026-12-05 is due
    expect((await runJob(w, { trigger: "admin", billDate: "2026-12-06" })).bill).toEqual({ status: "not_ready", billDate: "2026-12-06" });
    const original = w.deps.fetch;
    w.deps.fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      return url.pathname === "/v3/bill/tradebill" ? new Response("no", { status: 500 }) : original(input, init);
    };
    expect((await runJob(w, { trigger: "admin", billDate: "2026-11-20" })).bill).toEqual({ status: "failed", billDate: "2026-11-20" });
    w.deps.fetch = original;
    w.clock.advance(60_000);
    // Before the fix both answers above set bill_check.retry_at: this run answered "waiting".
    expect((await runJob(w, { trigger: "cron" })).bill).toEqual({ status: "not_ready", billDate: "2026-12-05" });
  });

  it("a download whose SHA-1 differs from the announced one is not used (failed, recorded)", async () => {
    const w = createWorld();
    await paidOrder(w);
    const original = w.deps.fetch;
    w.deps.fetch = async (input, init) => {
      const res = await original(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!url.pathname.startsWith("/v3/billdownload")) return res;
      const bytes = new Uint8Array(await res.arrayBuffer());
      bytes[bytes.length - 3]! ^= 1;
      return new Response(bytes, { status: res.status, headers: res.headers });
    };
    w.clock.set(NEXT_DAY_1031);
    const report = await runJob(w, { limits: QUIET, billDate: "2026-11-29" });
    expect(report.bill).toEqual({ status: "failed", billDate: "2026-11-29" });
    expect(report.errors).toEqual(expect.arrayContaining([expect.objectContaining({ task: "bill", code: "bill_hash_mismatch" })]));
  });
});

/**
 * Shipping-info management (SPEC §9, WECHATPAY.md N): POST /admin/orders/{id}/shipping, the
 * upload rules and every documented outcome, the fulfilment hook's shipment, the get_order
 * refresh (push and cron), and what GET /v1/orders/{id} and the admin detail show.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runReconciliation } from "../../src/reconcile/job";
import { ADMIN_TOKEN, APPSECRET } from "../fixtures/keys";
import { cronCounted } from "../support/counting";
import { count, getOrder, paidAtWechat } from "../support/shop";
import { createWorld, forgetAccessToken, type World, type WorldOptions } from "../support/world";

type Shipping = { status: string; logisticsType: string | null; parcels: Record<string, unknown>[]; lastError: string | null; uploads: number; attempts: number; nextAttemptAt: string | null };
const UPLOAD = "/wxa/sec/order/upload_shipping_info";
const GET_ORDER = "/wxa/sec/order/get_order";

// Every world is a new WeChat: tokens and shipping records of earlier tests (this file's D1) would
// only make the cron ask it about payments it never saw.
beforeEach(async () => {
  await forgetAccessToken();
  await env.DB.prepare("DELETE FROM shippings").run();
  await env.DB.prepare("DELETE FROM kv WHERE key LIKE 'wechat:%'").run();
});

/** A world that records every upload body the Worker sends. */
function world(opts: WorldOptions = {}): World & { uploads: Record<string, unknown>[] } {
  const w = createWorld(opts);
  const uploads: Record<string, unknown>[] = [];
  const simFetch = w.deps.fetch;
  w.deps.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname === UPLOAD) uploads.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
    return simFetch(input, init);
  };
  return Object.assign(w, { uploads });
}

async function paid(w: World, items?: { productId: string; quantity: number }[]) {
  const j = await paidAtWechat(w, items);
  await w.sim.flush();
  return j;
}

let keys = 0;
async function ship(w: World, orderId: string, body: unknown, key = `ship-${++keys}`) {
  const res = await w.request("POST", `/admin/orders/${orderId}/shipping`, { json: body, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "idempotency-key": key } });
  const json = (await res.json()) as { shipping: Shipping; error?: { code: string; message: string } };
  return { status: res.status, shipping: json.shipping, error: json.error };
}

const express = (trackingNo = "YT1234567890", extra: Record<string, unknown> = {}) => ({ logisticsType: "express", parcels: [{ trackingNo, expressCompany: "YTO", ...extra }] });
const calls = (w: World, path: string) => w.sim.stats().calls[`POST ${path}`] ?? 0;
const cron = (w: World) => runReconciliation(w.env, w.deps, { trigger: "cron" });
const detail = async (w: World, id: string) =>
  (await (await w.request("GET", `/admin/orders/${id}`, { token: ADMIN_TOKEN })).json()) as { shipping: Shipping; buyerPhone: string | null; flags: { kind: string }[] };

describe("POST /admin/orders/{id}/shipping", () => {
  it("uploads by transaction_id with the payer, item_desc from the lines and upload_time in +08:00 with ms → 202 SHIPPED", async () => {
    const w = world();
    const j = await paid(w);
    const r = await ship(w, j.order.id, express());
    expect(r.status).toBe(202);
    expect(r.shipping).toMatchObject({ status: "SHIPPED", logisticsType: "express", uploads: 1, attempts: 1, lastError: null });
    expect(w.uploads).toHaveLength(1);
    const body = w.uploads[0]!;
    expect(body).toMatchObject({
      order_key: { order_number_type: 2, transaction_id: j.transactionId },
      logistics_type: 1,
      delivery_mode: 1,
      shipping_list: [{ tracking_no: "YT1234567890", express_company: "YTO", item_desc: "Pour-over coffee*2" }],
      payer: { openid: j.user.openid },
    });
    expect(body.upload_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$/);
    expect(body).not.toHaveProperty("is_all_delivered");
    expect(w.sim.wx.shipping(j.transactionId)).toMatchObject({ orderState: 2, finishShippingCount: 1 });
    // The buyer sees tracking, never a contact.
    const o = await getOrder(w, j.user.token, j.order.id);
    expect(o.shipping).toEqual({ status: "SHIPPED", logisticsType: "express", parcels: [{ trackingNo: "YT1234567890", expressCompany: "YTO" }] });
  });

  it("the same key and body again → the same shipment, no second upload; the key with another body → 409", async () => {
    const w = world();
    const j = await paid(w);
    expect((await ship(w, j.order.id, express(), "k-1")).status).toBe(202);
    const again = await ship(w, j.order.id, express(), "k-1");
    expect(again.status).toBe(202);
    expect(again.shipping.status).toBe("SHIPPED");
    expect(w.uploads).toHaveLength(1);
    const other = await ship(w, j.order.id, express("OTHER123"), "k-1");
    expect([other.status, other.error?.code]).toEqual([409, "idempotency_conflict"]);
  });

  it("400 without an Idempotency-Key or with bad bodies; 404 unknown order; 409 not paid or refunded in full", async () => {
    const w = world();
    const j = await paid(w);
    const noKey = await w.request("POST", `/admin/orders/${j.order.id}/shipping`, { json: express(), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(noKey.status).toBe(400);
    for (const body of [
      { logisticsType: "express" },
      { logisticsType: "express", parcels: [{ trackingNo: "X1" }] },
      { logisticsType: "virtual", parcels: [{ itemDesc: "a" }, { itemDesc: "b" }] },
      { logisticsType: "drone" },
      { logisticsType: "express", parcels: [{ trackingNo: "X1", expressCompany: "YTO", itemDesc: "x".repeat(121) }] },
      { logisticsType: "express", parcels: Array.from({ length: 16 }, (_, i) => ({ trackingNo: `T${i}`, expressCompany: "YTO" })) },
      { logisticsType: "express", parcels: [{ trackingNo: "X1", expressCompany: "YTO", contact: { receiverContact: "call me" } }] },
    ]) {
      const r = await ship(w, j.order.id, body);
      expect([r.status, r.error?.code], JSON.stringify(body)).toEqual([400, "invalid_request"]);
    }
    expect((await ship(w, "ord_nope", express())).status).toBe(404);
    const user = await w.login();
    const unpaid = await w.request("POST", "/v1/orders", { json: { items: [{ productId: "prod_tea", quantity: 1 }] }, token: user.token });
    const unpaidId = ((await unpaid.json()) as { order: { id: string } }).order.id;
    const r = await ship(w, unpaidId, express());
    expect([r.status, r.error?.code]).toEqual([409, "not_shippable"]);
    await env.DB.prepare("UPDATE orders SET status = 'REFUNDED', refunded_amount = amount WHERE id = ?").bind(j.order.id).run();
    const refunded = await ship(w, j.order.id, express());
    expect([refunded.status, refunded.error?.message]).toEqual([409, "the order was refunded in full; nothing to ship"]);
    expect(w.uploads).toHaveLength(0);
  });

  it("one re-ship only: a second shipment re-uploads (later upload_time), a third is 409 not_shippable", async () => {
    const w = world();
    const j = await paid(w);
    await ship(w, j.order.id, express("FIRST0001"));
    w.clock.advance(1_000);
    const second = await ship(w, j.order.id, express("SECOND0002"));
    expect(second.shipping).toMatchObject({ status: "SHIPPED", uploads: 2 });
    expect(Date.parse(String(w.uploads[1]!.upload_time))).toBeGreaterThan(Date.parse(String(w.uploads[0]!.upload_time)));
    expect(w.sim.wx.shipping(j.transactionId)?.finishShippingCount).toBe(2);
    const third = await ship(w, j.order.id, express("THIRD0003"));
    expect([third.status, third.error?.code]).toEqual([409, "not_shippable"]);
    expect(w.uploads).toHaveLength(2);
  });

  it("split delivery (express only): delivery_mode 2 with is_all_delivered", async () => {
    const w = world();
    const j = await paid(w);
    const r = await ship(w, j.order.id, { logisticsType: "express", parcels: [{ trackingNo: "P1", expressCompany: "YTO" }, { trackingNo: "P2", expressCompany: "ZTO" }] });
    expect(r.shipping.status).toBe("SHIPPED");
    expect(w.uploads[0]).toMatchObject({ delivery_mode: 2, is_all_delivered: true });
    expect((w.uploads[0]!.shipping_list as unknown[]).length).toBe(2);
  });

  it("SF Express: the buyer's number, masked, when no contact is given; 400 when there is none", async () => {
    const w = world();
    const j = await paid(w);
    const none = await ship(w, j.order.id, { logisticsType: "express", parcels: [{ trackingNo: "SF100", expressCompany: "SF" }] });
    expect([none.status, none.error?.code]).toEqual([400, "invalid_request"]);
    const { code } = w.sim.wx.mintPhoneCode({ openid: j.user.openid, purePhoneNumber: "13812341234" });
    expect((await w.request("POST", "/v1/users/me/phone", { json: { code }, token: j.user.token })).status).toBe(200);
    const r = await ship(w, j.order.id, { logisticsType: "express", parcels: [{ trackingNo: "SF100", expressCompany: "SF" }] });
    expect(r.shipping.status).toBe("SHIPPED");
    expect((w.uploads.at(-1)!.shipping_list as { contact: unknown }[])[0]!.contact).toEqual({ receiver_contact: "138****1234" });
    const d = await detail(w, j.order.id);
    expect(d.buyerPhone).toBe("138****1234");
    expect(JSON.stringify(d)).not.toContain("13812341234");
    expect(w.logs.join("\n")).not.toContain("13812341234");
    // A given plain number is masked before it leaves.
    const w2 = world();
    const j2 = await paid(w2);
    await ship(w2, j2.order.id, { logisticsType: "express", parcels: [{ trackingNo: "SF200", expressCompany: "SF", contact: { consignorContact: "02112345678" } }] });
    expect((w2.uploads[0]!.shipping_list as { contact: unknown }[])[0]!.contact).toEqual({ consignor_contact: "021****5678" });
  });
});

describe("upload outcomes", () => {
  it("10060001 right after payment: retried by the cron within a minute, SHIPPED once WeChat sees the payment", async () => {
    const w = world();
    w.sim.wx.setShippingVisibleAfter(90_000);
    const j = await paid(w);
    const r = await ship(w, j.order.id, express());
    expect(r.shipping).toMatchObject({ status: "UPLOADING", lastError: "errcode_10060001" });
    expect(Date.parse(r.shipping.nextAttemptAt!) - w.clock.now()).toBeLessThanOrEqual(60_000);
    w.clock.advance(60_000);
    await cron(w);
    expect((await detail(w, j.order.id)).shipping.status).toBe("UPLOADING");
    w.clock.advance(60_000);
    await cron(w);
    expect((await detail(w, j.order.id)).shipping).toMatchObject({ status: "SHIPPED", attempts: 3 });
  });

  it("10060001 for an hour after payment → FAILED and flagged", async () => {
    const w = world();
    w.sim.wx.setShippingVisibleAfter(10 * 3600_000);
    const j = await paid(w);
    await ship(w, j.order.id, express());
    for (let i = 0; i < 12; i++) {
      w.clock.advance(10 * 60_000);
      await cron(w);
    }
    const d = await detail(w, j.order.id);
    expect(d.shipping.status).toBe("FAILED");
    expect(d.flags.map((f) => f.kind)).toContain("shipping_failed");
  });

  for (const errcode of [-1, 10060012, 10060019]) {
    it(`${errcode} is retried by the cron`, async () => {
      // No pushes: the get_order count below is the upload's own.
      const w = world({ sim: { push: undefined } });
      const j = await paid(w);
      w.sim.addFault({ target: "api", path: UPLOAD, kind: "errcode", errcode });
      expect((await ship(w, j.order.id, express())).shipping).toMatchObject({ status: "UPLOADING", lastError: `errcode_${errcode}` });
      w.clock.advance(61_000);
      await cron(w);
      expect((await detail(w, j.order.id)).shipping.status).toBe("SHIPPED");
      expect(calls(w, GET_ORDER)).toBe(0);
    });
  }

  it("a timeout after WeChat applied the upload: get_order first, no second upload (the one re-ship is kept)", async () => {
    const w = world();
    const j = await paid(w);
    w.sim.addFault({ target: "api", path: UPLOAD, kind: "timeout", ms: 5_000, applied: true });
    expect((await ship(w, j.order.id, express())).shipping).toMatchObject({ status: "UPLOADING", lastError: "unknown_outcome" });
    w.clock.advance(61_000);
    await cron(w);
    expect((await detail(w, j.order.id)).shipping).toMatchObject({ status: "SHIPPED", uploads: 1 });
    expect(calls(w, UPLOAD)).toBe(1);
    expect(calls(w, GET_ORDER)).toBeGreaterThanOrEqual(1);
    expect(w.sim.wx.shipping(j.transactionId)?.finishShippingCount).toBe(1);
  });

  it("the cron's server-API calls time out on the cron's timeout (the one its budget reserves), not the routes' longer one", async () => {
    const w = world({ sim: { push: undefined } });
    w.deps.upstream = { ...w.deps.upstream, wechatServerTimeoutMs: 3_000, cronTimeoutMs: 200 };
    const j = await paid(w);
    // The admin's upload fails fast (an errcode), leaving the record for the cron.
    w.sim.addFault({ target: "api", path: UPLOAD, kind: "errcode", errcode: -1 });
    expect((await ship(w, j.order.id, express())).shipping.status).toBe("UPLOADING");
    // WeChat answers the cron's upload after 800 ms: past the cron's 200 ms, well within 3 s.
    w.sim.addFault({ target: "api", path: UPLOAD, kind: "delay", ms: 800 });
    w.clock.advance(61_000);
    await cron(w);
    expect((await detail(w, j.order.id)).shipping).toMatchObject({ status: "UPLOADING", lastError: "unknown_outcome" });
  });

  it("a 5xx that did not apply: get_order says awaiting shipment, then the upload", async () => {
    const w = world();
    const j = await paid(w);
    w.sim.addFault({ target: "api", path: UPLOAD, kind: "status", status: 502 });
    expect((await ship(w, j.order.id, express())).shipping.status).toBe("UPLOADING");
    w.clock.advance(61_000);
    await cron(w);
    expect((await detail(w, j.order.id)).shipping).toMatchObject({ status: "SHIPPED", uploads: 1 });
    expect(calls(w, UPLOAD)).toBe(2);
    expect(calls(w, GET_ORDER)).toBeGreaterThanOrEqual(1);
  });

  it("10060023 (nothing changed) is settled by get_order: SHIPPED, the re-ship chance not spent", async () => {
    const w = world();
    const j = await paid(w);
    await ship(w, j.order.id, express("SAME0001"));
    w.clock.advance(1_000);
    const r = await ship(w, j.order.id, express("SAME0001"), "another-key");
    expect(r.shipping).toMatchObject({ status: "SHIPPED", uploads: 1 });
    expect(w.sim.wx.shipping(j.transactionId)?.finishShippingCount).toBe(1);
  });

  it("10060002 (already shipped) is settled by get_order too", async () => {
    const w = world();
    const j = await paid(w);
    await ship(w, j.order.id, express("A0001"));
    w.sim.addFault({ target: "api", path: UPLOAD, kind: "errcode", errcode: 10060002 });
    w.clock.advance(1_000);
    const r = await ship(w, j.order.id, express("B0002"), "k-10060002");
    expect(r.shipping.status).toBe("SHIPPED");
  });

  for (const errcode of [10060031, 10060003, 268485216]) {
    it(`${errcode} → FAILED with a shipping_failed flag, not retried`, async () => {
      const w = world();
      const j = await paid(w);
      w.sim.addFault({ target: "api", path: UPLOAD, kind: "errcode", errcode });
      const r = await ship(w, j.order.id, express());
      expect(r.shipping.status).toBe("FAILED");
      expect(r.shipping.lastError).toContain(`errcode_${errcode}`);
      w.clock.advance(3600_000);
      await cron(w);
      expect(calls(w, UPLOAD)).toBe(1);
      expect((await detail(w, j.order.id)).flags.map((f) => f.kind)).toContain("shipping_failed");
      // A FAILED shipment can be sent again (a new request).
      expect((await ship(w, j.order.id, express("NEW0001"))).shipping.status).toBe("SHIPPED");
    });
  }

  it("a token expired mid-run: refreshed and retried once, the upload SHIPPED; nothing secret logged", async () => {
    const w = world();
    const a = await paid(w);
    const b = await paid(w);
    await ship(w, a.order.id, express());
    w.sim.wx.expireTokens();
    expect((await ship(w, b.order.id, express())).shipping.status).toBe("SHIPPED");
    expect(w.sim.wx.tokenStats()).toMatchObject({ stableTokenCalls: 2, forceRefreshCalls: 0 });
    const logs = w.logs.join("\n");
    expect(logs).not.toContain(APPSECRET);
    expect(logs).not.toContain("access_token");
  });

  it("20 concurrent uploads needing a token → one stable_token call", async () => {
    const w = world({ env: { ORDER_RATE_LIMIT: "0", LOGIN_RATE_LIMIT: "0" } });
    const orders = [];
    for (let i = 0; i < 20; i++) orders.push(await paid(w, [{ productId: "prod_tea", quantity: 1 }]));
    const results = await Promise.all(orders.map((o) => ship(w, o.order.id, express(`C${o.order.id}`))));
    expect(results.every((r) => r.status === 202 && r.shipping.status === "SHIPPED")).toBe(true);
    expect(w.sim.wx.tokenStats().stableTokenCalls).toBe(1);
  });
});

describe("the fulfilment hook's shipment", () => {
  it("{ shipping: { logisticsType: 'virtual' } } is uploaded once, without an admin", async () => {
    const w = world({ fulfil: async () => ({ shipping: { logisticsType: "virtual" } }) });
    const j = await paid(w, [{ productId: "prod_cent", quantity: 1 }]);
    expect(w.uploads).toHaveLength(1);
    expect(w.uploads[0]).toMatchObject({ logistics_type: 3, delivery_mode: 1, shipping_list: [{ item_desc: "One-fen test item*1" }] });
    await cron(w);
    expect(w.uploads).toHaveLength(1);
    expect((await getOrder(w, j.user.token, j.order.id)).shipping).toMatchObject({ status: "SHIPPED", logisticsType: "virtual" });
  });

  it("run by the cron, the hook's shipment is recorded by the fulfilment and uploaded by the shipping task (an item of its own, within the budget)", async () => {
    let hookRuns = 0;
    const w = world({
      fulfil: async () => {
        if (++hookRuns === 1) throw new Error("hook down");
        return { shipping: { logisticsType: "virtual" } };
      },
    });
    const j = await paid(w, [{ productId: "prod_cent", quantity: 1 }]);
    expect(w.uploads).toHaveLength(0);
    await cron(w); // is_trade_managed; the fulfilment is not due yet (back-off)
    w.clock.advance(61_000);
    const r = await cron(w);
    expect(r.tasks.fulfilments).toMatchObject({ scanned: 1, changed: 1 });
    expect(r.tasks.shipping.changed).toBe(1);
    expect(w.uploads).toHaveLength(1);
    expect((await getOrder(w, j.user.token, j.order.id)).shipping).toMatchObject({ status: "SHIPPED", logisticsType: "virtual" });
  });

  it("the example hook ships the one-fen test item as virtual goods and leaves physical goods to the admin", async () => {
    const { fulfilOrder } = await import("../../src/fulfilment/hook");
    const ctx = { env: w0().env, logger: w0().deps.logger, fetch: w0().deps.fetch };
    const order = (productId: string) => ({ id: "o", outTradeNo: "n", userId: "u", amount: 1, transactionId: "t", items: [{ productId, name: "x", quantity: 1, unitPrice: 1 }] });
    expect(await fulfilOrder(order("prod_cent"), ctx)).toEqual({ shipping: { logisticsType: "virtual" } });
    expect(await fulfilOrder(order("prod_tote"), ctx)).toBeUndefined();
  });
});

let cached: World | undefined;
const w0 = () => (cached ??= createWorld());

describe("receipt and settlement", () => {
  it("WeChat's pushes move the record to RECEIVED and SETTLED from get_order, whatever confirm_receive_method says", async () => {
    const w = world();
    const j = await paid(w);
    await ship(w, j.order.id, express());
    // The swapped method (O.9) must not matter. (Each push a second later: WeChat dedupes by CreateTime.)
    w.clock.advance(1_000);
    await w.sim.wx.confirmReceipt(j.transactionId, { method: 2 });
    expect((await detail(w, j.order.id)).shipping.status).toBe("RECEIVED");
    w.clock.advance(1_000);
    await w.sim.wx.settle(j.transactionId);
    const d = await detail(w, j.order.id);
    expect(d.shipping.status).toBe("SETTLED");
    expect(await count("SELECT count(*) AS n FROM wx_push_events WHERE transaction_id = ? AND status = 'applied'", j.transactionId)).toBeGreaterThanOrEqual(2);
    expect((await getOrder(w, j.user.token, j.order.id)).shipping?.status).toBe("SETTLED");
  });

  it("without pushes, the cron's get_order refresh gets there too (confirmed, funds pending → RECEIVED)", async () => {
    const w = world({ sim: { push: undefined } });
    const j = await paid(w);
    await ship(w, j.order.id, express());
    await w.sim.wx.confirmReceipt(j.transactionId, { pendingFunds: true });
    w.clock.advance(6 * 3600_000);
    await cron(w);
    expect((await detail(w, j.order.id)).shipping.status).toBe("RECEIVED");
    await w.sim.wx.settle(j.transactionId);
    w.clock.advance(6 * 3600_000);
    await cron(w);
    expect((await detail(w, j.order.id)).shipping.status).toBe("SETTLED");
  });
});

describe("cron: overdue, jump path, is_trade_managed", () => {
  it("flags a paid order still unshipped 36 h after payment, once", async () => {
    const w = world();
    const j = await paid(w);
    w.clock.advance(35 * 3600_000);
    await cron(w);
    expect(await count("SELECT count(*) AS n FROM flags WHERE order_id = ? AND kind = 'shipping_overdue'", j.order.id)).toBe(0);
    w.clock.advance(3600_000 + 1_000);
    // Other tests' orders in this file are overdue too: on the free plan's per-run budget the
    // flags are written over a few runs.
    const flagged = () => count("SELECT count(*) AS n FROM flags WHERE order_id = ? AND kind = 'shipping_overdue'", j.order.id);
    for (let i = 0; i < 10 && (await flagged()) === 0; i++) {
      w.clock.advance(60_000);
      await cron(w);
    }
    await cron(w);
    expect(await flagged()).toBe(1);
  });

  it("does not flag when shipping is not required (WX_TRADE_MANAGED=false), and records shipments without uploading", async () => {
    const w = world({ env: { WX_TRADE_MANAGED: "false" } });
    const j = await paid(w);
    expect((await ship(w, j.order.id, express())).shipping.status).toBe("SHIPPED");
    expect(w.uploads).toHaveLength(0);
    const k = await paid(w);
    w.clock.advance(37 * 3600_000);
    await cron(w);
    expect(await count("SELECT count(*) AS n FROM flags WHERE order_id = ? AND kind = 'shipping_overdue'", k.order.id)).toBe(0);
  });

  it("applies WX_ORDER_JUMP_PATH once (and again when it changes); asks is_trade_managed once a day when auto", async () => {
    const w = world({ env: { WX_ORDER_JUMP_PATH: "pages/order/index" } });
    await cron(w);
    await cron(w);
    expect(w.sim.wx.msgJumpPath).toBe("pages/order/index");
    expect(calls(w, "/wxa/sec/order/set_msg_jump_path")).toBe(1);
    expect(calls(w, "/wxa/sec/order/is_trade_managed")).toBe(1);
    w.clock.advance(24 * 3600_000);
    await cron(w);
    expect(calls(w, "/wxa/sec/order/is_trade_managed")).toBe(2);
    const changed = world({ env: { WX_ORDER_JUMP_PATH: "pages/orders/detail" } });
    await cron(changed);
    expect(changed.sim.wx.msgJumpPath).toBe("pages/orders/detail");
  });

  it("is_trade_managed false (auto): overdue orders are not flagged", async () => {
    const w = world({ sim: { tradeManaged: false } });
    await env.DB.prepare("DELETE FROM kv WHERE key LIKE 'wechat:trade_managed:%'").run();
    const j = await paid(w);
    w.clock.advance(37 * 3600_000);
    await cron(w);
    expect(await count("SELECT count(*) AS n FROM flags WHERE order_id = ? AND kind = 'shipping_overdue'", j.order.id)).toBe(0);
    await env.DB.prepare("DELETE FROM kv WHERE key LIKE 'wechat:trade_managed:%'").run();
  });
});

describe("what the API shows", () => {
  it("GET /v1/orders/{id}: null before payment, NOT_SHIPPED once paid; admin detail the full record", async () => {
    const w = world();
    const user = await w.login();
    const created = await w.request("POST", "/v1/orders", { json: { items: [{ productId: "prod_tea", quantity: 1 }] }, token: user.token });
    const id = ((await created.json()) as { order: { id: string } }).order.id;
    expect((await getOrder(w, user.token, id)).shipping).toBeNull();
    const j = await paid(w);
    expect((await getOrder(w, j.user.token, j.order.id)).shipping).toEqual({ status: "NOT_SHIPPED", logisticsType: null, parcels: [] });
    expect((await detail(w, j.order.id)).shipping).toMatchObject({ status: "NOT_SHIPPED", attempts: 0 });
  });
});

describe("cron: shipping within the run's budget", () => {
  it("free plan, 100 due uploads: each run stops taking uploads before the limits, leaves the rest (left.shipping), has no call refused; the backlog drains", async () => {
    const w = world({ sim: { push: undefined } });
    const u = await w.login();
    const now = w.clock.now();
    // 100 paid orders with a due upload each; WeChat (below) accepts every upload.
    await w.env.DB.prepare(
      "INSERT INTO orders (id, user_id, openid, out_trade_no, status, amount, description, time_expire, expires_at, transaction_id, paid_at, created_at, updated_at) " +
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 100) " +
        "SELECT 'ord_bulkship' || n, ?1, ?2, 'BULKSHIP' || n, 'PAID', 100, 'bulk', '2026-11-29T20:30:00+08:00', ?3, '4200009' || n, ?3, ?3, ?3 FROM seq",
    )
      .bind(u.userId, u.openid, now)
      .run();
    await w.env.DB.prepare(
      "INSERT INTO shippings (order_id, status, logistics_type, parcels, source, attempts, next_attempt_at, created_at, updated_at) " +
        "SELECT id, 'UPLOADING', 'virtual', '[{\"itemDesc\":\"bulk*1\"}]', 'admin', 0, ?1, ?1, ?1 FROM orders WHERE out_trade_no LIKE 'BULKSHIP%'",
    )
      .bind(now)
      .run();
    let uploads = 0;
    const accepting: typeof fetch = async (input, init) => {
      if (new URL(input instanceof Request ? input.url : String(input)).pathname === UPLOAD) {
        uploads++;
        return Response.json({ errcode: 0, errmsg: "ok" });
      }
      return w.deps.fetch(input, init);
    };
    const uploading = () => count("SELECT COUNT(*) AS n FROM shippings s JOIN orders o ON o.id = s.order_id WHERE s.status = 'UPLOADING' AND o.out_trade_no LIKE 'BULKSHIP%'");

    let runs = 0;
    let stoppedMidway = 0;
    while ((await uploading()) > 0 && runs < 120) {
      const before = await uploading();
      const sent = uploads;
      w.clock.advance(60_000);
      const { report, requests, queries } = await cronCounted(w, accepting);
      runs++;
      // Counted by us: within the free plan's limits; no call was refused (that would fail its item).
      expect(requests).toBeLessThanOrEqual(45);
      expect(queries).toBeLessThanOrEqual(45);
      expect(report.errors.filter((e) => e.task === "shipping" || e.code === "budget_exceeded")).toEqual([]);
      const taken = uploads - sent;
      expect(before - (await uploading())).toBe(taken);
      if (taken > 0 && taken < Math.min(50, before)) {
        stoppedMidway++;
        expect(report.stoppedEarly).not.toBeNull();
        expect(report.left.shipping).toBe(Math.min(50, before) - taken);
      }
    }
    expect(await uploading()).toBe(0);
    expect(uploads).toBe(100);
    expect(stoppedMidway).toBeGreaterThan(1);
    expect(runs).toBeGreaterThan(3);
  });
});

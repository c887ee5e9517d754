/**
 * The example mini program as a client of the running system (see global-setup.ts): its pages run
 * under miniprogram-simulate, `wx` is bridged to the Worker and the WeChat simulator
 * (wx-bridge.ts), and every answer comes from the real Worker, D1 and simulator.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { closePages, openPage, tap, text, waitFor, type RenderedPage } from "./pages";
import { installWx, type Bridge } from "./wx-bridge";

const workerUrl = inject("workerUrl");
const simUrl = inject("simUrl");
const adminToken = inject("adminToken");
const mp = inject("miniprogramDir");

let wx: Bridge;
beforeAll(() => {
  wx = installWx({ simUrl });
});
afterEach(async () => {
  await wx.idle();
  closePages();
});

const lastNavigation = () => wx.navigations[wx.navigations.length - 1];
const data = <T = unknown>(page: RenderedPage, key: string) => page.data[key] as T;
const describePage = (page: RenderedPage) => () => `state ${String(page.data.state)}, page shows: ${text(page)}`;

async function simTransaction(outTradeNo: string): Promise<{ state: string }> {
  const res = await fetch(`${simUrl}/__sim/transactions/${encodeURIComponent(outTradeNo)}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { transaction: { state: string } }).transaction;
}

/** Product list → tap "Buy" on `productIndex` → the checkout page it navigates to. */
async function shopAndOpenCheckout(productIndex: number) {
  const products = openPage(mp, "/pages/products/index");
  await waitFor("the product list", () => data(products, "state") === "ready", { describe: describePage(products) });
  const list = data<{ id: string; name: string; price: number; priceText: string }[]>(products, "products");
  expect(list.length).toBeGreaterThan(productIndex);
  const product = list[productIndex]!;
  expect(text(products)).toContain(product.name);
  expect(text(products)).toContain(`¥${(product.price / 100).toFixed(2)}`);

  const before = wx.navigations.length;
  await tap(products, ".buy", productIndex);
  await waitFor("navigation to the checkout", () => wx.navigations.length > before);
  expect(lastNavigation()).toEqual({ kind: "navigateTo", url: `/pages/checkout/index?productId=${encodeURIComponent(product.id)}` });

  const checkout = openPage(mp, lastNavigation()!.url);
  await waitFor("the checkout", () => data(checkout, "state") === "ready", { describe: describePage(checkout) });
  expect(text(checkout)).toContain(product.name);
  return { product, checkout };
}

describe("example mini program against the running Worker and WeChat simulator", () => {
  it("logs in, lists products, checks out, pays, and the order page shows PAID", async () => {
    wx.payment = "pay";
    const from = wx.requests.length;
    const { product, checkout } = await shopAndOpenCheckout(0);
    // Logged in through wx.login → POST /v1/auth/login; the token is in storage.
    expect(wx.openid).toMatch(/^o/);
    const session = wx.storage.get("wxpay-edge.session") as { token: string; user: { openid: string } };
    expect(session.user.openid).toBe(wx.openid);

    await tap(checkout, ".plus");
    await waitFor("quantity 2", () => data(checkout, "quantity") === 2, { describe: describePage(checkout) });
    expect(text(checkout)).toContain(`¥${((product.price * 2) / 100).toFixed(2)}`);

    const navs = wx.navigations.length;
    await tap(checkout, ".pay");
    await waitFor("the redirect to the order page", () => wx.navigations.length > navs, { describe: describePage(checkout) });
    const nav = lastNavigation()!;
    expect(nav.kind).toBe("redirectTo");
    expect(nav.url).toMatch(/^\/pages\/order\/index\?id=ord_/);

    // One order, created with an Idempotency-Key, paid through the simulator, then checked with the server.
    const creates = wx.requests.slice(from).filter((r) => r.method === "POST" && r.path === "/v1/orders");
    expect(creates).toHaveLength(1);
    expect(creates[0]!.status).toBe(201);
    expect(creates[0]!.headers["idempotency-key"]).toMatch(/^mp-/);
    expect(creates[0]!.body).toEqual({ items: [{ productId: product.id, quantity: 2 }] });
    expect(wx.payments.at(-1)).toEqual({ errMsg: "requestPayment:ok" });
    const order = (creates[0]!.response as { order: { id: string; outTradeNo: string; amount: number } }).order;
    expect(order.amount).toBe(product.price * 2);
    const syncs = wx.requests.filter((r) => r.path === `/v1/orders/${order.id}?sync=true`);
    expect(syncs.length).toBeGreaterThanOrEqual(1);
    expect((syncs[syncs.length - 1]!.response as { order: { status: string } }).order.status).toBe("PAID");

    const orderPage = openPage(mp, nav.url);
    await waitFor("the order page", () => (data<{ status: string } | null>(orderPage, "order")?.status === "PAID" ? true : null), {
      describe: describePage(orderPage),
    });
    expect(text(orderPage)).toContain("Paid");
    expect(text(orderPage)).toContain("PAID");
    expect(text(orderPage)).toContain(order.outTradeNo);
    expect(text(orderPage)).toContain(`¥${((product.price * 2) / 100).toFixed(2)}`);
    expect(data(orderPage, "pending")).toBe(false);

    // WeChat (the simulator) agrees, and so does the admin view: paid and fulfilled.
    expect((await simTransaction(order.outTradeNo)).state).toBe("SUCCESS");
    if (adminToken) {
      const res = await fetch(`${workerUrl}/admin/orders/${order.id}`, { headers: { authorization: `Bearer ${adminToken}` } });
      if (res.status !== 404) {
        expect(res.status).toBe(200);
        const detail = (await res.json()) as { order: { status: string } };
        expect(detail.order.status).toBe("PAID");
      }
    }
  });

  it("requestPayment:fail cancel → 'payment not completed'; pay again, still cancelled; cancel the order → CLOSED", async () => {
    wx.payment = "cancel";
    const from = wx.requests.length;
    const { checkout } = await shopAndOpenCheckout(1);
    await tap(checkout, ".pay");
    await waitFor("payment not completed", () => data(checkout, "state") === "not_completed", { describe: describePage(checkout) });
    expect(text(checkout)).toContain("Payment not completed");
    expect(wx.payments.at(-1)).toEqual({ errMsg: "requestPayment:fail cancel" });
    const order = data<{ id: string; outTradeNo: string; status: string }>(checkout, "order");
    // The client result is not trusted: the server was asked, and the order is still payable.
    const asked = wx.requests.filter((r) => r.path === `/v1/orders/${order.id}?sync=true`);
    expect(asked.length).toBeGreaterThanOrEqual(1);
    expect(order.status).toBe("PAYING");
    expect((await simTransaction(order.outTradeNo)).state).toBe("NOTPAY");

    // "Pay again" asks for fresh parameters for the same order (no second order).
    await tap(checkout, ".retry");
    await waitFor("the second attempt", () => wx.payments.length >= 2 && data(checkout, "state") === "not_completed", { describe: describePage(checkout) });
    expect(wx.requests.filter((r) => r.method === "POST" && r.path === `/v1/orders/${order.id}/pay`).map((r) => r.status)).toEqual([200]);
    expect(wx.requests.slice(from).filter((r) => r.method === "POST" && r.path === "/v1/orders")).toHaveLength(1);

    await tap(checkout, ".cancel");
    await waitFor("the cancelled order", () => data(checkout, "state") === "closed", { describe: describePage(checkout) });
    expect(text(checkout)).toContain("Order cancelled");
    expect(data<{ status: string }>(checkout, "order").status).toBe("CLOSED");
    expect(wx.toasts).toContain("Order cancelled");
    expect((await simTransaction(order.outTradeNo)).state).toBe("CLOSED");

    // The order page (e.g. opened later from the order list) says the same.
    const orderPage = openPage(mp, `/pages/order/index?id=${order.id}`);
    await waitFor("the order page", () => (data<{ status: string } | null>(orderPage, "order")?.status === "CLOSED" ? true : null), {
      describe: describePage(orderPage),
    });
    expect(text(orderPage)).toContain("Cancelled");
  });

  it("a payment WeChat rejects (bad paySign) shows the failure; paying again with fresh parameters succeeds", async () => {
    wx.payment = "tamper";
    const { checkout } = await shopAndOpenCheckout(0);
    await tap(checkout, ".pay");
    await waitFor("the failure", () => data(checkout, "state") === "failed", { describe: describePage(checkout) });
    expect(wx.payments.at(-1)!.errMsg).toMatch(/^requestPayment:fail /);
    expect(text(checkout)).toContain("Payment failed");

    wx.payment = "pay";
    const navs = wx.navigations.length;
    await tap(checkout, ".retry");
    await waitFor("the redirect to the order page", () => wx.navigations.length > navs, { describe: describePage(checkout) });
    const orderPage = openPage(mp, lastNavigation()!.url);
    await waitFor("PAID", () => (data<{ status: string } | null>(orderPage, "order")?.status === "PAID" ? true : null), {
      describe: describePage(orderPage),
    });

    // Shipped from the admin API (SPEC §9): the order page shows the state and the tracking number, Chinese first.
    const id = data<{ id: string }>(orderPage, "order").id;
    const shipped = await fetch(`${workerUrl}/admin/orders/${id}/shipping`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", "idempotency-key": `mp-ship-${id}` },
      body: JSON.stringify({ logisticsType: "express", parcels: [{ trackingNo: "YT9876543210", expressCompany: "YTO" }] }),
    });
    expect(shipped.status).toBe(202);
    const again = openPage(mp, `/pages/order/index?id=${id}`);
    await waitFor("the tracking", () => (text(again).includes("YT9876543210") ? true : null), { describe: describePage(again) });
    expect(text(again)).toContain("已发货 Shipped");
    expect(text(again)).toContain("快递 Courier");
  });

  it("a token the server no longer accepts is replaced by a fresh wx.login, and the call is retried", async () => {
    const require = createRequire(import.meta.url);
    const client = require(join(mp, "api", "client.js")) as { api: { orders(): Promise<{ orders: unknown[] }> } };
    const stored = wx.storage.get("wxpay-edge.session") as { token: string; expiresAt: number };
    wx.storage.set("wxpay-edge.session", { ...stored, token: `${stored.token.slice(0, -4)}AAAA` });
    const from = wx.requests.length;
    const { orders } = await client.api.orders();
    expect(orders.length).toBeGreaterThanOrEqual(1);
    const seen = wx.requests.slice(from).map((r) => `${r.method} ${r.path.replace(/\?.*/, "")} ${r.status}`);
    expect(seen).toEqual(["GET /v1/orders 401", "POST /v1/auth/login 200", "GET /v1/orders 200"]);
    expect((wx.storage.get("wxpay-edge.session") as { token: string }).token).not.toContain("AAAA");
    // The login carried the refused token (SPEC §11: a login WeChat blocks ends that user's sessions).
    expect(wx.requests[from + 1]!.headers.authorization).toBe(`Bearer ${stored.token.slice(0, -4)}AAAA`);
  });
});

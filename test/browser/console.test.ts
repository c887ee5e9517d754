/**
 * The operator console in a real browser (SPEC §10): headless Chromium (Debian's package) driven
 * by playwright-core against the whole system, as an operator uses it — sign in, read the
 * figures, find an order, refund part of it, resolve a flag, change a price, export CSV, sign
 * out — and as an attacker probes it: forged posts, cookie flags, the CSP, other hosts.
 * The tests run in order and share one browser; the throttle test is last (it locks the address).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { formatFen } from "../../src/lib/money";
import { ROOT } from "../../scripts/dev-system.mjs";
import { SEEDED_FLAG_KINDS } from "./global-setup";
import { adminGet, customer, paidOrder, placeOrder, simRefunds, type OrderJson, type Shop } from "./shop";

const shop: Shop = { worker: inject("workerUrl"), sim: inject("simUrl"), adminToken: inject("adminToken") };
const base = shop.worker;
const SCREENSHOTS = process.env.SCREENSHOTS === "1";

let browser: Browser;
let context: BrowserContext;
let page: Page;
const requested: string[] = [];
let paidA: OrderJson;
let paidB: OrderJson;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN", acceptDownloads: true });
  context.on("request", (r) => requested.push(r.url()));
  page = await context.newPage();
  page.on("dialog", (d) => void d.accept());
  [paidA, paidB] = await Promise.all([
    paidOrder(shop, [{ productId: "prod_coffee", quantity: 2 }]),
    paidOrder(shop, [{ productId: "prod_mooncake", quantity: 3 }, { productId: "prod_tea", quantity: 1 }]),
  ]);
  const u = await customer(shop);
  await placeOrder(shop, u.token, [{ productId: "prod_tote", quantity: 1 }]); // left unpaid
});

afterAll(async () => {
  await browser?.close();
});

const sessionCookie = async () => (await context.cookies(`${base}/admin/ui/overview`)).find((c) => c.name === "wxe_console");

async function submit(p: Page, selector: string) {
  const [res] = await Promise.all([p.waitForNavigation(), p.click(selector)]);
  return res;
}

describe("the console in Chromium", () => {
  it("GET /admin → the sign-in form; a wrong token is refused and sets no cookie", async () => {
    const res = await page.goto(`${base}/admin`);
    expect(page.url()).toBe(`${base}/admin/ui/signin`);
    expect(res!.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    await page.fill('input[name="token"]', "not-the-token");
    const answer = await submit(page, 'button[type="submit"]');
    expect(answer!.status()).toBe(401);
    expect(await page.textContent("[role=alert]")).toContain("令牌不正确");
    expect(await sessionCookie()).toBeUndefined();
  });

  it("signs in: an HttpOnly, SameSite=Strict cookie on /admin for 8 h, and the overview under a strict CSP", async () => {
    await page.fill('input[name="token"]', shop.adminToken);
    const res = await submit(page, 'button[type="submit"]');
    expect(page.url()).toBe(`${base}/admin/ui/overview`);
    const cookie = (await sessionCookie())!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/admin", secure: false /* 127.0.0.1 only */ });
    expect(cookie.expires * 1000 - Date.now()).toBeGreaterThan(8 * 3600_000 - 120_000);
    expect(cookie.expires * 1000 - Date.now()).toBeLessThanOrEqual(8 * 3600_000 + 5_000);
    const h = res!.headers();
    expect(h["content-security-policy"]).toMatch(/default-src 'none'; script-src 'nonce-[^']+';.*frame-ancestors 'none'/);
    expect(h["content-security-policy"]).not.toContain("unsafe-inline");
    expect(h["x-content-type-options"]).toBe("nosniff");
    // The script runs (served by the Worker itself), and nothing on the page can read the cookie.
    expect(await page.evaluate('document.cookie.includes("wxe_console")')).toBe(false);
  });

  it("the overview's figures are the JSON API's (today, 7 and 30 days), in ¥ from fen", async () => {
    await page.goto(`${base}/admin/ui/overview`);
    for (const [period, days] of [["today", 1], ["7", 7], ["30", 30]] as const) {
      const api = await adminGet<{ totals: Record<string, number> }>(shop, `/admin/stats?days=${days}`);
      const figure = (name: string) => page.textContent(`[data-period="${period}"] [data-figure="${name}"]`);
      expect(await figure("gmvPaid"), period).toBe(formatFen(api.totals.gmvPaid!));
      expect(await figure("refunded"), period).toBe(formatFen(api.totals.refunded!));
      expect(await figure("net"), period).toBe(formatFen(api.totals.net!));
      expect(Number(await figure("orders")), period).toBe(api.totals.orders);
      expect(Number(await figure("paid")), period).toBe(api.totals.paid);
    }
    expect((await adminGet<{ totals: { gmvPaid: number } }>(shop, "/admin/stats?days=1")).totals.gmvPaid).toBeGreaterThanOrEqual(paidA.amount + paidB.amount);
    expect(await page.locator("svg.chart rect").count()).toBeGreaterThan(0);
  });

  it("search finds an order by its out_trade_no", async () => {
    await page.goto(`${base}/admin/ui/orders`);
    expect(await page.locator("tr[data-order-id]").count()).toBeGreaterThanOrEqual(3);
    await page.fill('input[name="q"]', paidB.outTradeNo);
    await submit(page, 'form[role="search"] button[type="submit"]');
    const rows = page.locator("tr[data-order-id]");
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute("data-order-id")).toBe(paidB.id);
  });

  it("a partial refund through the form reaches WeChat (the simulator) and shows in the timeline", async () => {
    await submit(page, `tr[data-order-id="${paidB.id}"] a`);
    expect(page.url()).toBe(`${base}/admin/ui/orders/${paidB.id}`);
    expect(await page.getAttribute('input[name="amount"]', "data-max-fen")).toBe(String(paidB.amount));
    await page.fill('input[name="amount"]', "12.34");
    await page.fill('input[name="reason"]', "少发一个月饼");
    await submit(page, "form.refund button[type=submit]");
    expect(page.url()).toBe(`${base}/admin/ui/orders/${paidB.id}?done=refunded`);
    expect(await page.textContent("[role=status]")).toContain("退款已提交");
    const atWechat = (await simRefunds(shop)).filter((r) => r.outTradeNo === paidB.outTradeNo);
    expect(atWechat.map((r) => r.refund)).toEqual([1234]);
    expect(await page.textContent('ol.timeline li[data-kind="refund"]')).toContain("退款 ¥12.34 · 少发一个月饼");
    if (SCREENSHOTS) await page.screenshot({ path: join(ROOT, "docs", "console-order.png"), fullPage: true });
  });

  it("a refund above the refundable amount is refused by the page, and by the server when the page is bypassed", async () => {
    const left = paidB.amount - 1234;
    await page.goto(`${base}/admin/ui/orders/${paidB.id}`);
    expect(await page.getAttribute('input[name="amount"]', "data-max-fen")).toBe(String(left));
    await page.fill('input[name="amount"]', "999.99");
    await page.click("form.refund button[type=submit]");
    await page.waitForTimeout(300);
    expect(page.url()).toBe(`${base}/admin/ui/orders/${paidB.id}`);
    expect(await page.textContent("[data-refund-error]")).toContain("退款金额超过可退金额");
    // Bypass the page's check (as a hand-made request would): the server refuses too.
    await page.evaluate('document.querySelector("[data-max-fen]").removeAttribute("data-max-fen")');
    const res = await submit(page, "form.refund button[type=submit]");
    expect(res!.status()).toBe(409);
    expect(await page.textContent("[role=alert]")).toContain("退款金额超过可退金额");
    expect((await simRefunds(shop)).filter((r) => r.outTradeNo === paidB.outTradeNo)).toHaveLength(1);
  });

  it("enters a shipment through the form and WeChat (the simulator) has it", async () => {
    await page.goto(`${base}/admin/ui/orders/${paidA.id}`);
    await page.selectOption('select[name="logisticsType"]', "express");
    await page.fill('input[name="trackingNo"]', "YT1234567890");
    await page.fill('input[name="expressCompany"]', "YTO");
    await submit(page, "form.shipping button[type=submit]");
    expect(page.url()).toBe(`${base}/admin/ui/orders/${paidA.id}?done=shipped`);
    expect(await page.textContent("[role=status]")).toContain("发货信息已提交");
    expect(await page.getAttribute("[data-shipping-status]", "data-shipping-status")).toMatch(/^(SHIPPED|UPLOADING)$/);
    const detail = await adminGet<{ shipping: { parcels: { trackingNo: string; expressCompany: string }[] } }>(shop, `/admin/orders/${paidA.id}`);
    expect(detail.shipping.parcels).toEqual([expect.objectContaining({ trackingNo: "YT1234567890", expressCompany: "YTO" })]);
  });

  it("resolves a flag with a note", async () => {
    await page.goto(`${base}/admin/ui/flags`);
    const row = page.locator("tr", { hasText: SEEDED_FLAG_KINDS[0] });
    const id = await row.getAttribute("data-flag-id");
    await row.locator('input[name="note"]').fill("已核实：测试标记");
    await Promise.all([page.waitForNavigation(), row.locator("button[type=submit]").click()]);
    expect(await page.textContent("[role=status]")).toContain("已标记为已处理");
    expect(await page.locator(`tr[data-flag-id="${id}"]`).count()).toBe(0);
    const resolved = await adminGet<{ flags: { id: number; note: string }[] }>(shop, "/admin/flags?status=resolved");
    expect(resolved.flags.find((f) => String(f.id) === id)?.note).toBe("已核实：测试标记");
  });

  it("a price edited in the catalogue applies to the next order, not to earlier ones", async () => {
    await page.goto(`${base}/admin/ui/products`);
    const row = page.locator('tr[data-product-id="prod_tea"]');
    await row.locator('input[name="price"]').fill("26.80");
    await Promise.all([page.waitForNavigation(), row.locator("button[type=submit]").click()]);
    expect(await page.textContent("[role=status]")).toContain("已保存");
    const u = await customer(shop);
    const { order } = await placeOrder(shop, u.token, [{ productId: "prod_tea", quantity: 2 }]);
    expect(order.amount).toBe(5360);
    expect(order.items[0]!.unitPrice).toBe(2680);
    const before = await adminGet<{ order: OrderJson }>(shop, `/admin/orders/${paidB.id}`);
    expect(before.order.items.find((i) => i.productId === "prod_tea")!.unitPrice).toBe(2500);
  });

  it("exports the filtered orders as CSV", async () => {
    await page.goto(`${base}/admin/ui/orders?q=${paidA.outTradeNo}`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('a[data-action="csv"]')]);
    expect(download.suggestedFilename()).toMatch(/^orders-\d{4}-\d{2}-\d{2}\.csv$/);
    const text = readFileSync((await download.path())!, "utf8");
    const lines = text.replace(/^\ufeff/, "").trim().split("\r\n");
    expect(lines[0]).toContain("out_trade_no");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`${paidA.id},${paidA.outTradeNo},PAID,36.00,0.00,`);
  });

  it("forged posts — no CSRF token, or from another origin — are refused with 403 and change nothing", async () => {
    await page.goto(`${base}/admin/ui/flags`);
    const id = await page.locator("tr", { hasText: SEEDED_FLAG_KINDS[1] }).getAttribute("data-flag-id");
    const csrf = await page.getAttribute('input[name="_csrf"]', "value");
    // From the console's own page, but without the token (the cookie goes along: same origin).
    const noToken = await page.evaluate(async (path) => (await fetch(path, { method: "POST", body: new URLSearchParams({ note: "forged" }) })).status, `/admin/ui/flags/${id}/resolve`);
    expect(noToken).toBe(403);
    // With the token but from another origin (the browser context's cookies, an evil Origin).
    const cross = await context.request.post(`${base}/admin/ui/flags/${id}/resolve`, { form: { note: "forged", _csrf: csrf! }, headers: { origin: "http://evil.example" }, maxRedirects: 0 });
    expect(cross.status()).toBe(403);
    const json = await context.request.post(`${base}/admin/flags/${id}/resolve`, { data: { note: "forged" }, headers: { origin: base }, maxRedirects: 0 });
    expect(json.status()).toBe(403);
    const open = await adminGet<{ flags: { id: number }[] }>(shop, "/admin/flags?status=open");
    expect(open.flags.map((f) => String(f.id))).toContain(id);
  });

  it("screenshots of the overview (docs/) and English with ?lang=en, remembered", async () => {
    await page.goto(`${base}/admin/ui/overview?lang=en`);
    expect(await page.textContent("h1")).toBe("Overview");
    await page.goto(`${base}/admin/ui/orders`);
    expect(await page.getAttribute("html", "lang")).toBe("en");
    await page.goto(`${base}/admin/ui/overview?lang=zh`);
    expect(await page.textContent("h1")).toBe("概览");
    if (SCREENSHOTS) await page.screenshot({ path: join(ROOT, "docs", "console-overview.png"), fullPage: true });
  });

  it("signs out: the cookie is gone and the pages need signing in again", async () => {
    await submit(page, 'button[data-action="signout"]');
    expect(page.url()).toBe(`${base}/admin/ui/signin`);
    expect(await sessionCookie()).toBeUndefined();
    await page.goto(`${base}/admin/ui/orders`);
    expect(page.url()).toBe(`${base}/admin/ui/signin`);
  });

  it("no request ever left for another host", () => {
    const origins = new Set(requested.map((u) => new URL(u).origin));
    expect([...origins]).toEqual([base]);
  });

  it("repeated wrong tokens: the address is rate-limited (429), even with the right token", async () => {
    let last = 0;
    for (let i = 0; i < 25 && last !== 429; i++) {
      await page.goto(`${base}/admin/ui/signin`);
      await page.fill('input[name="token"]', `guess-${i}`);
      last = (await submit(page, 'button[type="submit"]'))!.status();
    }
    expect(last).toBe(429);
    await page.goto(`${base}/admin/ui/signin`);
    await page.fill('input[name="token"]', shop.adminToken);
    const res = await submit(page, 'button[type="submit"]');
    expect(res!.status()).toBe(429);
    expect(res!.headers()["retry-after"]).toMatch(/^\d+$/);
    expect(await page.textContent("[role=alert]")).toContain("失败次数过多");
    expect(await sessionCookie()).toBeUndefined();
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { csvCell } from "../../src/admin/csv";
import { count, placeOrder } from "../support/shop";
import { createWorld, type World } from "../support/world";
import { admin, paidOrder } from "../unit/refunds/support";

const body = async <T>(res: Response) => (await res.json()) as T;
type OrderList = { orders: { id: string; outTradeNo: string; openid: string; status: string }[]; nextCursor: string | null };

async function addFlag(w: World, orderId: string | null, kind = "amount_mismatch"): Promise<number> {
  const row = await env.DB.prepare("INSERT INTO flags (order_id, kind, detail, at) VALUES (?, ?, '{\"x\":1}', ?) RETURNING id").bind(orderId, kind, w.clock.now()).first<{ id: number }>();
  return row!.id;
}

describe("GET /admin/orders search and dates", () => {
  it("q finds one order by id, out_trade_no, transaction_id, or all of a payer's by openid", async () => {
    const w = createWorld();
    const { order, transactionId, user } = await paidOrder(w);
    w.clock.advance(1000);
    const other = await placeOrder(w, user.token, [{ productId: "prod_tea", quantity: 1 }]);
    for (const q of [order.id, order.outTradeNo, transactionId]) {
      const list = await body<OrderList>(await admin(w, "GET", `/admin/orders?q=${encodeURIComponent(q)}`));
      expect(list.orders.map((o) => o.id), q).toEqual([order.id]);
      expect(list.orders[0]!.openid).toBe(user.openid);
    }
    const byPayer = await body<OrderList>(await admin(w, "GET", `/admin/orders?q=${user.openid}`));
    expect(byPayer.orders.map((o) => o.id)).toEqual([other.order.id, order.id]);
    const paidOnly = await body<OrderList>(await admin(w, "GET", `/admin/orders?q=${user.openid}&status=PAID`));
    expect(paidOnly.orders.map((o) => o.id)).toEqual([order.id]);
    expect((await body<OrderList>(await admin(w, "GET", "/admin/orders?q=WXnothing"))).orders).toEqual([]);
    // A prefix is not a match: q is exact.
    expect((await body<OrderList>(await admin(w, "GET", `/admin/orders?q=${order.outTradeNo.slice(0, 10)}`))).orders).toEqual([]);
  });

  it("from/to are Asia/Shanghai creation dates, both included; a bad date → 400", async () => {
    const w = createWorld();
    w.clock.set(Date.UTC(2026, 11, 1, 15, 59, 0)); // 2026-12-01 23:59 Shanghai
    const u = await w.login();
    const late = await placeOrder(w, u.token);
    w.clock.advance(2 * 60_000); // 2026-12-02 00:01 Shanghai
    const next = await placeOrder(w, u.token);
    const ids = async (qs: string) => (await body<OrderList>(await admin(w, "GET", `/admin/orders?q=${u.openid}&${qs}`))).orders.map((o) => o.id);
    expect(await ids("from=2026-12-01&to=2026-12-01")).toEqual([late.order.id]);
    expect(await ids("from=2026-12-02")).toEqual([next.order.id]);
    expect(await ids("to=2026-12-02")).toEqual([next.order.id, late.order.id]);
    for (const bad of ["from=2026-02-30", "to=yesterday", "from=2026-1-1"]) expect((await admin(w, "GET", `/admin/orders?${bad}`)).status, bad).toBe(400);
  });
});

describe("GET /admin/orders.csv", () => {
  it("the filter's orders as CSV: BOM, header, yuan from fen, Shanghai times, attachment", async () => {
    const w = createWorld();
    const { order, transactionId, user } = await paidOrder(w, [{ productId: "prod_mooncake", quantity: 3 }]);
    const res = await admin(w, "GET", `/admin/orders.csv?q=${user.openid}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="orders-2026-11-29.csv"');
    expect(res.headers.get("x-truncated")).toBe("false");
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = new TextDecoder().decode(bytes).split("\r\n");
    expect(lines[0]).toBe("id,out_trade_no,status,amount_yuan,refunded_yuan,transaction_id,openid,description,created_at_shanghai,paid_at_shanghai");
    expect(lines[1]).toBe(`${order.id},${order.outTradeNo},PAID,38.64,0.00,${transactionId},${user.openid},Lotus-seed mooncake x3,2026-11-29 20:00:00,2026-11-29 20:00:00`);
    expect(lines.slice(2)).toEqual([""]);
    expect((await admin(w, "GET", "/admin/orders.csv?status=NOPE")).status).toBe(400);
    expect((await admin(w, "GET", "/admin/orders.csv", { token: null })).status).toBe(401);
  });

  it("cells cannot become spreadsheet formulas; quotes and commas are escaped", () => {
    expect(csvCell("=HYPERLINK(\"x\")")).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-1")).toBe("'-1");
    expect(csvCell("@SUM")).toBe("'@SUM");
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell("plain 中文")).toBe("plain 中文");
  });
});

describe("flags inbox", () => {
  it("lists open flags, resolves one with a note (once), then lists it as resolved", async () => {
    const w = createWorld();
    const { order } = await paidOrder(w);
    const id = await addFlag(w, order.id);
    const open = await body<{ flags: { id: number; orderId: string; kind: string; detail: unknown; resolvedAt: string | null; note: string | null }[] }>(await admin(w, "GET", "/admin/flags"));
    expect(open.flags.find((f) => f.id === id)).toMatchObject({ orderId: order.id, kind: "amount_mismatch", detail: { x: 1 }, resolvedAt: null, note: null });

    w.clock.advance(1000);
    const res = await admin(w, "POST", `/admin/flags/${id}/resolve`, { json: { note: "  refunded the difference by hand " } });
    expect(res.status).toBe(200);
    expect((await body<{ flag: unknown }>(res)).flag).toMatchObject({ id, resolvedAt: new Date(w.clock.now()).toISOString(), note: "refunded the difference by hand" });
    const again = await admin(w, "POST", `/admin/flags/${id}/resolve`, { json: { note: "twice" } });
    expect(again.status).toBe(409);
    expect((await body<{ error: { code: string } }>(again)).error.code).toBe("conflict");
    expect(await count("SELECT COUNT(*) AS n FROM flags WHERE id = ? AND resolution_note = 'refunded the difference by hand'", id)).toBe(1);

    const openNow = await body<{ flags: { id: number }[] }>(await admin(w, "GET", "/admin/flags?status=open"));
    expect(openNow.flags.map((f) => f.id)).not.toContain(id);
    const resolved = await body<{ flags: { id: number }[] }>(await admin(w, "GET", "/admin/flags?status=resolved"));
    expect(resolved.flags.map((f) => f.id)).toContain(id);
    const detail = await body<{ flags: { id: number; note: string }[] }>(await admin(w, "GET", `/admin/orders/${order.id}`));
    expect(detail.flags).toEqual([expect.objectContaining({ id, note: "refunded the difference by hand" })]);
  });

  it("pages with a cursor", async () => {
    const w = createWorld();
    const ids = [await addFlag(w, null, "p1"), await addFlag(w, null, "p2"), await addFlag(w, null, "p3")];
    const p1 = await body<{ flags: { id: number }[]; nextCursor: string }>(await admin(w, "GET", "/admin/flags?limit=2"));
    expect(p1.flags.map((f) => f.id)).toEqual([ids[2], ids[1]]);
    const p2 = await body<{ flags: { id: number }[] }>(await admin(w, "GET", `/admin/flags?limit=2&cursor=${p1.nextCursor}`));
    expect(p2.flags[0]!.id).toBe(ids[0]);
  });

  it("unknown flag → 404; empty or missing note, bad id, bad status → 400; nothing written", async () => {
    const w = createWorld();
    const id = await addFlag(w, null);
    expect((await admin(w, "POST", "/admin/flags/999999/resolve", { json: { note: "x" } })).status).toBe(404);
    for (const json of [{}, { note: "" }, { note: "   " }, { note: 5 }, { note: "x".repeat(501) }, { note: "ok", extra: 1 }]) {
      expect((await admin(w, "POST", `/admin/flags/${id}/resolve`, { json })).status, JSON.stringify(json)).toBe(400);
    }
    expect((await admin(w, "POST", "/admin/flags/abc/resolve", { json: { note: "x" } })).status).toBe(400);
    expect((await admin(w, "GET", "/admin/flags?status=all")).status).toBe(400);
    expect(await count("SELECT COUNT(*) AS n FROM flags WHERE id = ? AND resolved_at IS NULL", id)).toBe(1);
    expect((await admin(w, "POST", `/admin/flags/${id}/resolve`, { json: { note: "x" }, token: null })).status).toBe(401);
  });
});

describe("catalogue editor", () => {
  it("create, edit the price: a new order takes the new price, the old order keeps its lines", async () => {
    const w = createWorld();
    const created = await admin(w, "POST", "/admin/products", { json: { id: "prod_cake_t1", name: "桂花糕", description: "Osmanthus cake", price: 1500, sort: 5 } });
    expect(created.status).toBe(201);
    expect((await body<{ product: unknown }>(created)).product).toEqual({
      id: "prod_cake_t1", name: "桂花糕", description: "Osmanthus cake", price: 1500, currency: "CNY", active: true, sort: 5, createdAt: new Date(w.clock.now()).toISOString(), updatedAt: null,
    });
    const u = await w.login();
    const first = await placeOrder(w, u.token, [{ productId: "prod_cake_t1", quantity: 2 }]);
    expect(first.order.amount).toBe(3000);

    w.clock.advance(1000);
    const patched = await admin(w, "PATCH", "/admin/products/prod_cake_t1", { json: { price: 1234 } });
    expect(patched.status).toBe(200);
    expect((await body<{ product: unknown }>(patched)).product).toMatchObject({ price: 1234, name: "桂花糕", updatedAt: new Date(w.clock.now()).toISOString() });
    const second = await placeOrder(w, u.token, [{ productId: "prod_cake_t1", quantity: 2 }]);
    expect(second.order.amount).toBe(2468);
    expect(second.order.items[0]!.unitPrice).toBe(1234);
    const old = await body<{ order: { amount: number; items: { unitPrice: number }[] } }>(await admin(w, "GET", `/admin/orders/${first.order.id}`));
    expect(old.order).toMatchObject({ amount: 3000, items: [expect.objectContaining({ unitPrice: 1500 })] });
  });

  it("deactivated products are off sale but listed for the admin; never deleted", async () => {
    const w = createWorld();
    await admin(w, "POST", "/admin/products", { json: { id: "prod_off_t1", name: "Off", price: 100 } });
    expect((await admin(w, "PATCH", "/admin/products/prod_off_t1", { json: { active: false } })).status).toBe(200);
    const pub = await body<{ products: { id: string }[] }>(await w.request("GET", "/v1/products"));
    expect(pub.products.map((p) => p.id)).not.toContain("prod_off_t1");
    const all = await body<{ products: { id: string; active: boolean }[] }>(await admin(w, "GET", "/admin/products"));
    expect(all.products.find((p) => p.id === "prod_off_t1")).toMatchObject({ active: false });
    expect(all.products.find((p) => p.id === "prod_retired")).toMatchObject({ active: false });
    const u = await w.login();
    expect((await w.request("POST", "/v1/orders", { token: u.token, json: { items: [{ productId: "prod_off_t1", quantity: 1 }] } })).status).toBe(400);
    // No delete route: 405, with the methods there are (products are deactivated, never deleted).
    const del = await admin(w, "DELETE", "/admin/products/prod_off_t1");
    expect(del.status).toBe(405);
    expect(del.headers.get("allow")).toBe("PATCH");
    expect(await count("SELECT COUNT(*) AS n FROM products WHERE id = 'prod_off_t1'")).toBe(1);
  });

  it("a generated id when none is given; a taken id → 409; unknown → 404; bad bodies → 400 and nothing written", async () => {
    const w = createWorld();
    const gen = await body<{ product: { id: string } }>(await admin(w, "POST", "/admin/products", { json: { name: "Gen", price: 1 } }));
    expect(gen.product.id).toMatch(/^prod_/);
    const dup = await admin(w, "POST", "/admin/products", { json: { id: "prod_coffee", name: "x", price: 1 } });
    expect(dup.status).toBe(409);
    expect((await admin(w, "PATCH", "/admin/products/prod_nope_t1", { json: { price: 5 } })).status).toBe(404);
    const before = await count("SELECT COUNT(*) AS n FROM products");
    const coffee = await env.DB.prepare("SELECT * FROM products WHERE id = 'prod_coffee'").first();
    for (const json of [{ name: "x", price: 0 }, { name: "x", price: -1 }, { name: "x", price: 1.5 }, { name: "x", price: "100" }, { name: "", price: 1 }, { name: "x", price: 100_000_001 }, { id: "bad id!", name: "x", price: 1 }, { name: "x", price: 1, currency: "USD" }]) {
      expect((await admin(w, "POST", "/admin/products", { json })).status, JSON.stringify(json)).toBe(400);
    }
    for (const json of [{}, { price: 0 }, { price: 12.5 }, { active: "no" }, { id: "prod_x" }]) {
      expect((await admin(w, "PATCH", "/admin/products/prod_coffee", { json })).status, JSON.stringify(json)).toBe(400);
    }
    expect(await count("SELECT COUNT(*) AS n FROM products")).toBe(before);
    expect(await env.DB.prepare("SELECT * FROM products WHERE id = 'prod_coffee'").first()).toEqual(coffee);
    expect((await admin(w, "POST", "/admin/products", { json: { name: "x", price: 1 }, token: null })).status).toBe(401);
  });
});

describe("GET /admin/reconcile/runs", () => {
  it("newest first, with the report's counts; pages with a cursor", async () => {
    const w = createWorld();
    await admin(w, "POST", "/admin/reconcile");
    w.clock.advance(1000);
    await admin(w, "POST", "/admin/reconcile");
    const page = await body<{ runs: { id: number; trigger: string; scanned: number; failed: number; finishedAt: string }[]; nextCursor: string }>(await admin(w, "GET", "/admin/reconcile/runs?limit=1"));
    expect(page.runs).toHaveLength(1);
    expect(page.runs[0]).toMatchObject({ trigger: "admin", scanned: expect.any(Number), failed: expect.any(Number), finishedAt: expect.any(String) });
    const next = await body<{ runs: { id: number }[] }>(await admin(w, "GET", `/admin/reconcile/runs?limit=1&cursor=${page.nextCursor}`));
    expect(next.runs[0]!.id).toBeLessThan(page.runs[0]!.id);
    expect((await admin(w, "GET", "/admin/reconcile/runs?limit=0")).status).toBe(400);
    expect((await admin(w, "GET", "/admin/reconcile/runs", { token: null })).status).toBe(401);
  });
});

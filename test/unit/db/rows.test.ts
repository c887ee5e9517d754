/**
 * The hand-written SQL of the hot paths (db/rows.ts, orders/repository.ts) must return exactly
 * what drizzle returns for the same rows: the code above it was written against drizzle's shapes.
 */
import { env } from "cloudflare:workers";
import { asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { rowCodec } from "../../../src/db/rows";
import * as schema from "../../../src/db/schema";
import { activeProductsByIds } from "../../../src/catalogue/products";
import {
  findOrderById,
  findOrderByIdempotencyKey,
  findOrderByOutTradeNo,
  findOrderForUser,
  findOrderWithItemsForUser,
  HOT_READS,
  insertOrder,
  itemsForOrders,
  listOrdersWithItemsForUser,
} from "../../../src/orders/repository";

const db = drizzle(env.DB, { schema });
const T = 1_790_000_000_000;

// Storage is per file, not per test: every test uses its own ids.
let n = 0;
const prefix = () => `t${++n}_`;

async function user(id: string) {
  await env.DB.prepare("INSERT INTO users (id, openid, session_key_enc, created_at, updated_at) VALUES (?, ?, 'x', ?, ?)")
    .bind(id, `o_${id}`, T, T)
    .run();
}

function newOrder(id: string, userId: string, at: number, extra: Partial<typeof schema.orders.$inferInsert> = {}) {
  return {
    id,
    userId,
    openid: `o_${userId}`,
    outTradeNo: `T${id}`,
    status: "CREATED" as const,
    amount: 1700,
    description: "Coffee ×1, Tea ×2",
    timeExpire: "2026-09-22T10:00:00+08:00",
    expiresAt: at + 1_800_000,
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}

const lines = [
  { line: 1, productId: "prod_coffee", name: "Coffee", quantity: 1, unitPrice: 900 },
  { line: 2, productId: "prod_tea", name: "Tea", quantity: 2, unitPrice: 400 },
];

describe("hand-written hot-path SQL", () => {
  it("inserts with the schema's defaults and reads back exactly what drizzle reads", async () => {
    const p = prefix();
    const [u1, ord1] = [`${p}u1`, `${p}ord_1`];
    await user(u1);
    const stored = await insertOrder(db, newOrder(ord1, u1, T, { idempotencyKey: "k1", requestHash: "h" }), lines);
    const [viaDrizzle] = await db.select().from(schema.orders).where(eq(schema.orders.id, ord1));
    expect(viaDrizzle).toMatchObject({ currency: "CNY", refundedAmount: 0, queryCount: 0, prepayId: null, lastTransitionId: null });
    expect(stored).toEqual(viaDrizzle);
    expect(await findOrderById(db, ord1)).toEqual(viaDrizzle);
    expect(await findOrderForUser(db, ord1, u1)).toEqual(viaDrizzle);
    expect(await findOrderByOutTradeNo(db, `T${ord1}`)).toEqual(viaDrizzle);
    expect(await findOrderByIdempotencyKey(db, u1, "k1")).toEqual(viaDrizzle);

    const itemsViaDrizzle = await db.select().from(schema.orderItems).where(eq(schema.orderItems.orderId, ord1)).orderBy(asc(schema.orderItems.line));
    expect(itemsViaDrizzle).toHaveLength(2);
    expect(await findOrderWithItemsForUser(db, ord1, u1)).toEqual({ order: viaDrizzle, items: itemsViaDrizzle, shipping: null });
    // The shipping read (SPEC §9, same batch) gives drizzle's values under the same keys.
    await db.insert(schema.shippings).values({ orderId: ord1, status: "SHIPPED", logisticsType: "express", parcels: "[]", createdAt: 1, updatedAt: 1 });
    const [ship] = await db.select({ status: schema.shippings.status, logisticsType: schema.shippings.logisticsType, parcels: schema.shippings.parcels }).from(schema.shippings).where(eq(schema.shippings.orderId, ord1));
    expect((await findOrderWithItemsForUser(db, ord1, u1))?.shipping).toEqual(ship);
    expect((await itemsForOrders(db, [ord1])).get(ord1)).toEqual(itemsViaDrizzle);
  });

  it("stores an order of 20 lines (more values than D1 binds in one statement) with every line in order", async () => {
    const p = prefix();
    await user(`${p}u`);
    const many = Array.from({ length: 20 }, (_, i) => ({ line: i + 1, productId: `prod_${i}`, name: `P${i}`, quantity: 1 + (i % 3), unitPrice: 100 + i }));
    await insertOrder(db, newOrder(`${p}big`, `${p}u`, T), many);
    const found = await findOrderWithItemsForUser(db, `${p}big`, `${p}u`);
    expect(found!.items.map(({ orderId, ...line }) => (expect(orderId).toBe(`${p}big`), line))).toEqual(many);
  });

  it("finds nothing for another user's order, an unknown id or an unknown out_trade_no", async () => {
    const p = prefix();
    await user(`${p}u1`);
    await user(`${p}u2`);
    await insertOrder(db, newOrder(`${p}ord_1`, `${p}u1`, T), lines);
    expect(await findOrderForUser(db, `${p}ord_1`, `${p}u2`)).toBeUndefined();
    expect(await findOrderWithItemsForUser(db, `${p}ord_1`, `${p}u2`)).toBeUndefined();
    expect(await findOrderById(db, "ord_x")).toBeUndefined();
    expect(await findOrderByOutTradeNo(db, "Tord_x")).toBeUndefined();
  });

  it("pages a user's orders newest first with their lines, keyset after a cursor, never another user's", async () => {
    const p = prefix();
    const [u1, u2] = [`${p}u1`, `${p}u2`];
    const id = (s: string) => `${p}${s}`;
    await user(u1);
    await user(u2);
    // Five orders of u1, two of them at the same millisecond (the id breaks the tie), one of u2.
    const at = [T, T + 1, T + 2, T + 2, T + 3];
    for (const [i, t] of at.entries()) await insertOrder(db, newOrder(id(`ord_${i}`), u1, t), lines.slice(0, 1 + (i % 2)));
    await insertOrder(db, newOrder(id("ord_other"), u2, T + 10), lines);

    const first = await listOrdersWithItemsForUser(db, u1, 2, null);
    expect(first.rows.map((r) => r.id)).toEqual([id("ord_4"), id("ord_3")]);
    expect(first.more).toBe(true);
    expect([...first.items.keys()].sort()).toEqual([id("ord_3"), id("ord_4")]);
    expect(first.items.get(id("ord_3"))!.map((l) => l.line)).toEqual([1, 2]);

    const last = first.rows.at(-1)!;
    const second = await listOrdersWithItemsForUser(db, u1, 2, { createdAt: last.createdAt, id: last.id });
    expect(second.rows.map((r) => r.id)).toEqual([id("ord_2"), id("ord_1")]);
    const third = await listOrdersWithItemsForUser(db, u1, 2, { createdAt: T + 1, id: id("ord_1") });
    expect(third.rows.map((r) => r.id)).toEqual([id("ord_0")]);
    expect(third.more).toBe(false);
    expect([...third.items.keys()]).toEqual([id("ord_0")]);

    const [viaDrizzle] = await db.select().from(schema.orders).where(eq(schema.orders.id, id("ord_4")));
    expect(first.rows[0]).toEqual(viaDrizzle);
  });

  it("selects every column under its property name and decodes non-plain columns through drizzle's own mapping", async () => {
    const codec = rowCodec(schema.products);
    expect(codec.columns).toContain('"created_at" AS "createdAt"');
    expect(codec.names).toContain('"created_at"');
    expect(codec.names).not.toContain(" AS ");
    const raw = await env.DB.prepare(`SELECT ${codec.columns} FROM products WHERE id = 'prod_coffee'`).first<Record<string, unknown>>();
    const [viaDrizzle] = await db.select().from(schema.products).where(eq(schema.products.id, "prod_coffee"));
    expect(viaDrizzle!.active).toBe(true);
    expect(codec.decode(raw!)).toEqual(viaDrizzle);
    expect(codec.decode({ id: "p", active: 0 })).toEqual({ id: "p", active: false });
    expect(codec.column("createdAt")).toBe("created_at");
    expect(() => codec.column("nope" as never)).toThrow(/no column/);
  });

  it.each(Object.entries(HOT_READS))("reads %s through an index, never a full scan", async (_name, sql) => {
    const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => "x");
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail);
    expect(details.length).toBeGreaterThan(0);
    for (const d of details) expect(d).not.toMatch(/^SCAN (orders|order_items)\b/);
    expect(details.some((d) => /USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/.test(d))).toBe(true);
  });

  it("prices only active products", async () => {
    await env.DB.prepare("UPDATE products SET active = 0 WHERE id = 'prod_tea'").run();
    const found = await activeProductsByIds(db, ["prod_coffee", "prod_tea", "prod_missing"]);
    expect(found.map((p) => p.id)).toEqual(["prod_coffee"]);
    expect(Object.keys(found[0]!).sort()).toEqual(["currency", "description", "id", "name", "price"]);
  });
});

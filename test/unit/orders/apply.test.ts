import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../../../src/db/schema";
import { FakeClock } from "../../../src/lib/clock";
import { cryptoRandom, newId } from "../../../src/lib/random";
import { type ApplyContext, applyTransaction } from "../../../src/orders/apply";
import { d1Of, findOrderById, type OrderRow, type WonCondition, writeTransition } from "../../../src/orders/repository";
import type { Status } from "../../../src/orders/state";
import type { Transaction } from "../../../src/wechat/pay/port";
import { wrapD1 } from "../../support/chaos";
import { T0 } from "../../support/harness";

const db = drizzle(env.DB, { schema });
const merchant = { appid: "wxd930ea5d5a258f4f", mchid: "1900000109" };
const ctx = (): ApplyContext => ({ db, clock: new FakeClock(T0), random: cryptoRandom, merchant });

async function seedOrder(status: Status, over: Partial<OrderRow> = {}): Promise<OrderRow> {
  const userId = newId(cryptoRandom, "usr");
  await db.insert(schema.users).values({ id: userId, openid: `o-${userId}`, sessionKeyEnc: "x", createdAt: T0, updatedAt: T0 });
  const id = newId(cryptoRandom, "ord");
  await db.insert(schema.orders).values({
    id,
    userId,
    openid: `o-${userId}`,
    outTradeNo: `WX${id.slice(4)}`,
    status,
    amount: 1800,
    description: "Pour-over coffee",
    timeExpire: "2026-11-29T20:30:00+08:00",
    expiresAt: T0 + 1800_000,
    prepayId: status === "CREATED" ? null : "wx_prepay",
    prepayAt: status === "CREATED" ? null : T0,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  });
  return (await findOrderById(db, id))!;
}

function success(o: OrderRow, over: Partial<Transaction> = {}): Transaction {
  return {
    ...merchant,
    out_trade_no: o.outTradeNo,
    transaction_id: `42${o.id.slice(4)}`,
    trade_type: "JSAPI",
    trade_state: "SUCCESS",
    success_time: "2026-11-29T20:05:00+08:00",
    amount: { total: o.amount, payer_total: o.amount, currency: "CNY" },
    ...over,
  };
}

const n = async (sql: string, ...p: unknown[]) => (await env.DB.prepare(sql).bind(...p).first<{ n: number }>())!.n;
const events = (id: string) => n("SELECT count(*) n FROM order_events WHERE order_id = ?", id);
const outbox = (id: string) => n("SELECT count(*) n FROM fulfilments WHERE order_id = ? AND status = 'PENDING' AND attempts = 0", id);
const flagsOf = async (id: string) =>
  (await env.DB.prepare("SELECT kind FROM flags WHERE order_id = ? ORDER BY id").bind(id).all<{ kind: string }>()).results.map((r) => r.kind);
const notificationRow = (id: string) =>
  env.DB.prepare("INSERT INTO notifications (id, event_type, outcome, received_at) VALUES (?, 'TRANSACTION.SUCCESS', 'applied', ?)").bind(id, T0);
/** The caller's extra as the notify route builds it: plain alone, conditional in a transition batch. */
const logRow =
  (id: string) =>
  (won: WonCondition | null): D1PreparedStatement[] => [
    won
      ? env.DB.prepare(`INSERT INTO notifications (id, event_type, outcome, received_at) SELECT ?, 'TRANSACTION.SUCCESS', 'applied', ? WHERE ${won.sql}`).bind(id, T0, ...won.params)
      : notificationRow(id),
  ];

describe("applyTransaction", () => {
  it("SUCCESS on PAYING → PAID: transaction id, paidAt from success_time, audit row, fulfilment outbox, in one batch", async () => {
    const o = await seedOrder("PAYING", { nextCheckAt: T0 + 60_000 });
    const r = await applyTransaction(ctx(), o, success(o), "notify");
    expect(r.outcome).toBe("applied");
    if (r.outcome !== "applied") return;
    expect(r.becamePaid).toBe(true);
    expect(r.order.status).toBe("PAID");
    expect(r.order.transactionId).toBe(`42${o.id.slice(4)}`);
    expect(r.order.paidAt).toBe(Date.UTC(2026, 10, 29, 12, 5));
    expect(r.order.nextCheckAt).toBeNull();
    expect(await events(o.id)).toBe(1);
    const ev = await env.DB.prepare("SELECT * FROM order_events WHERE order_id = ?").bind(o.id).first<Record<string, unknown>>();
    expect(ev).toMatchObject({ from_status: "PAYING", to_status: "PAID", source: "notify", at: T0 });
    expect(JSON.parse(String(ev!.detail))).toMatchObject({ event: "PAYMENT_CONFIRMED", tradeState: "SUCCESS" });
    expect(await outbox(o.id)).toBe(1);
  });

  it("REFUND (paid, then refunded) on PAYING also → PAID", async () => {
    const o = await seedOrder("PAYING");
    const r = await applyTransaction(ctx(), o, success(o, { trade_state: "REFUND" }), "query");
    expect(r.outcome === "applied" && r.order.status).toBe("PAID");
  });

  it("SUCCESS on CLOSED → PAID and flagged paid_after_close (money is never ignored)", async () => {
    const o = await seedOrder("CLOSED");
    const r = await applyTransaction(ctx(), o, success(o), "notify", { notificationId: "EV-closed-1" });
    expect(r.outcome === "applied" && r.order.status).toBe("PAID");
    expect(await flagsOf(o.id)).toEqual(["paid_after_close"]);
    expect(await n("SELECT count(*) n FROM flags WHERE order_id = ? AND notification_id = 'EV-closed-1'", o.id)).toBe(1);
    expect(await outbox(o.id)).toBe(1);
  });

  it("a duplicate SUCCESS changes nothing but still writes the caller's extra statements once", async () => {
    const o = await seedOrder("PAYING");
    await applyTransaction(ctx(), o, success(o), "notify");
    const paid = (await findOrderById(db, o.id))!;
    const r = await applyTransaction(ctx(), paid, success(o), "notify", { extra: logRow(`EV-dup-${o.id}`) });
    expect(r.outcome).toBe("unchanged");
    expect(await events(o.id)).toBe(1);
    expect(await n("SELECT count(*) n FROM notifications WHERE id = ?", `EV-dup-${o.id}`)).toBe(1);
  });

  it("CLOSED → CLOSED; NOTPAY and USERPAYING → unchanged", async () => {
    const a = await seedOrder("PAYING");
    const closed = await applyTransaction(ctx(), a, { ...merchant, out_trade_no: a.outTradeNo, trade_state: "CLOSED", amount: { total: 1800 } }, "cron");
    expect(closed.outcome === "applied" && closed.order.status).toBe("CLOSED");
    const b = await seedOrder("PAYING");
    for (const state of ["NOTPAY", "USERPAYING"]) {
      const r = await applyTransaction(ctx(), b, { ...merchant, out_trade_no: b.outTradeNo, trade_state: state }, "query");
      expect(r.outcome).toBe("unchanged");
    }
    expect(await events(b.id)).toBe(0);
  });

  it.each([
    ["amount_mismatch", { amount: { total: 1, currency: "CNY" } }],
    ["appid_mismatch", { appid: "wx0000000000000000" }],
    ["mchid_mismatch", { mchid: "1999999999" }],
    ["out_trade_no_mismatch", { out_trade_no: "WXsomethingelse" }],
    ["currency_mismatch", { amount: { total: 1800, currency: "USD" } }],
  ] as const)("%s never pays: flagged, order untouched, extras written with the flag", async (kind, over) => {
    const o = await seedOrder("PAYING");
    const r = await applyTransaction(ctx(), o, success(o, over as Partial<Transaction>), "notify", { extra: logRow(`EV-${kind}-${o.id}`) });
    expect(r.outcome).toBe("flagged");
    expect((await findOrderById(db, o.id))!.status).toBe("PAYING");
    expect(await flagsOf(o.id)).toEqual([kind]);
    expect(await events(o.id)).toBe(0);
    expect(await outbox(o.id)).toBe(0);
    expect(await n("SELECT count(*) n FROM notifications WHERE id = ?", `EV-${kind}-${o.id}`)).toBe(1);
  });

  it("already paid under another transaction_id → flagged transaction_id_conflict, unchanged", async () => {
    const o = await seedOrder("PAYING");
    await applyTransaction(ctx(), o, success(o), "notify");
    const paid = (await findOrderById(db, o.id))!;
    const r = await applyTransaction(ctx(), paid, success(o, { transaction_id: "4200000000999" }), "query");
    expect(r.outcome).toBe("unchanged");
    expect(await flagsOf(o.id)).toEqual(["transaction_id_conflict"]);
  });

  it("ten concurrent SUCCESS applications: one winner, one audit row, one outbox row, every extra written once", async () => {
    const o = await seedOrder("PAYING");
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => applyTransaction(ctx(), o, success(o), "notify", { extra: logRow(`EV-race-${i}-${o.id}`) })),
    );
    expect(results.filter((r) => r.outcome === "applied")).toHaveLength(1);
    expect(results.filter((r) => r.outcome === "unchanged")).toHaveLength(9);
    expect(await events(o.id)).toBe(1);
    expect(await outbox(o.id)).toBe(1);
    expect(await n("SELECT count(*) n FROM notifications WHERE id LIKE ?", `EV-race-%-${o.id}`)).toBe(10);
  });

  it("a lost race stores none of the extras; a retry that fails stores nothing either (SPEC §8)", async () => {
    const o = await seedOrder("PAYING");
    let batches = 0;
    // The first transition batch loses (a concurrent same-status change lands just before it),
    // the retry's batch fails.
    const d1 = wrapD1({
      batch: async (real, stmts) => {
        batches++;
        if (batches === 1) await real.prepare("UPDATE orders SET last_transition_id = 'trn_concurrent' WHERE id = ?").bind(o.id).run();
        if (batches === 2) throw new Error("D1_ERROR: simulated storage failure");
        return real.batch(stmts);
      },
    });
    const flaky = { ...ctx(), db: drizzle(d1, { schema }) };
    await expect(applyTransaction(flaky, o, success(o), "notify", { extra: logRow(`EV-lost-${o.id}`) })).rejects.toThrow(/simulated storage failure/);
    expect(batches).toBe(2);
    expect(await n("SELECT count(*) n FROM notifications WHERE id = ?", `EV-lost-${o.id}`)).toBe(0);
    expect((await findOrderById(db, o.id))!.status).toBe("PAYING");
    // Redelivered: applied, and stored with its effect.
    const again = await applyTransaction(ctx(), (await findOrderById(db, o.id))!, success(o), "notify", { extra: logRow(`EV-lost-${o.id}`) });
    expect(again.outcome).toBe("applied");
    expect(await n("SELECT count(*) n FROM notifications WHERE id = ?", `EV-lost-${o.id}`)).toBe(1);
    expect(await events(o.id)).toBe(1);
  });
});

describe("writeTransition", () => {
  it("a stale `from` loses: nothing but the caller's unconditional extras is written", async () => {
    const o = await seedOrder("PAID", { transactionId: "42stale", paidAt: T0 });
    const r = await writeTransition(db, {
      orderId: o.id,
      from: "PAYING",
      to: "PAID",
      source: "notify",
      now: T0,
      token: newId(cryptoRandom, "trn"),
      flags: [{ kind: "should_not_exist", detail: null }],
      extra: (token) => [
        notificationRow(`EV-stale-${o.id}`),
        d1Of(db)
          .prepare("INSERT INTO flags (order_id, kind, at) SELECT ?, 'conditional_extra', ? WHERE EXISTS (SELECT 1 FROM orders WHERE id = ? AND last_transition_id = ?)")
          .bind(o.id, T0, o.id, token),
      ],
    });
    expect(r.won).toBe(false);
    expect(await events(o.id)).toBe(0);
    expect(await outbox(o.id)).toBe(0);
    expect(await flagsOf(o.id)).toEqual([]);
    expect(await n("SELECT count(*) n FROM notifications WHERE id = ?", `EV-stale-${o.id}`)).toBe(1);
  });

  it("with expectTransitionId, a concurrent same-status change makes the stale writer lose", async () => {
    const o = await seedOrder("PAYING");
    const first = await writeTransition(db, {
      orderId: o.id, from: "PAYING", expectTransitionId: null, to: "PAYING", patch: { prepayId: "wx_a" },
      source: "api", now: T0, token: newId(cryptoRandom, "trn"),
    });
    expect(first.won).toBe(true);
    const stale = await writeTransition(db, {
      orderId: o.id, from: "PAYING", expectTransitionId: null, to: "PAYING", patch: { prepayId: "wx_b" },
      source: "api", now: T0, token: newId(cryptoRandom, "trn"),
    });
    expect(stale.won).toBe(false);
    expect((await findOrderById(db, o.id))!.prepayId).toBe("wx_a");
    expect(await events(o.id)).toBe(1);
  });

  it("only whitelisted patch columns are written", async () => {
    const o = await seedOrder("CREATED");
    const r = await writeTransition(db, {
      orderId: o.id,
      from: "CREATED",
      to: "PAYING",
      patch: { prepayId: "wx_new", prepayAt: T0 + 1, amount: 1 } as never,
      source: "api",
      now: T0 + 1,
      token: newId(cryptoRandom, "trn"),
    });
    expect(r.won).toBe(true);
    if (!r.won) return;
    expect(r.order.prepayId).toBe("wx_new");
    expect(r.order.amount).toBe(1800);
    expect(r.order.updatedAt).toBe(T0 + 1);
    expect(r.order.outTradeNo).toBe(o.outTradeNo);
  });
});

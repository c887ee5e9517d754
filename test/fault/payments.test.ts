/**
 * Fault suite: many shoppers pay through the simulator while WeChat misbehaves — 30% of
 * notifications dropped, ~30% duplicated (some concurrently), the rest held back and released
 * out of order and delayed; ~5% of every WeChat API call (login, prepay, query, close, refund,
 * certificates) answered 500 / 429 / a dropped connection (half of those AFTER WeChat acted:
 * "did it happen?"); 10% of fulfilment hook runs failing. Refunds are made along the way.
 * Then the cron job (the Worker's scheduled handler) runs on the fake clock until nothing is
 * left to do, and the Worker's D1 must equal WeChat's truth: every order, every refund, every
 * fulfilment exactly once, no PAID without WeChat's transaction.
 *
 * Deterministic: seeded randomness everywhere (Worker ids, simulator ids and faults, the
 * shoppers' choices, fulfilment failures) and one fake clock.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PaidOrderForFulfilment } from "../../src/context";
import { seededRandom } from "../../src/lib/random";
import * as keys from "../fixtures/keys";
import { allOrders, allRefunds, loginRetrying, payParamsRetrying, placeRetrying, runCron, truthDiff, type Placed } from "../support/chaos";
import { Rng, SecretWatch } from "../support/hostile";
import type { PaymentJson } from "../support/shop";
import { createWorld, type World } from "../support/world";

// 500 orders, as issue 8 asks. Measured on the 2-core machine kind (Node 20, workerd local D1):
// 49–57 s for this test with the machine shared (load average 7–9), 120 s under heavier
// contention (load ~10, a D1 round trip at ~12 ms). If CI ever needs it faster, lower this
// count (not the fault rates) to whatever fits ~60 s.
const ORDERS = 500;
const SEED = 20261129;
const PRODUCTS = ["prod_coffee", "prod_tea", "prod_mooncake", "prod_tote", "prod_cent"];
const ADMIN = { authorization: `Bearer ${keys.ADMIN_TOKEN}` };
const MIN = 60_000;

type Fate = "pay" | "payLater" | "cancel" | "abandon";

interface Journey {
  i: number;
  token: string;
  openid: string;
  placed: Placed;
  fate: Fate;
  payAt: number;
}

function addFaults(w: World): void {
  // ~5% of all WeChat API calls fail (faults are tried in order, each with its own seeded draw).
  w.sim.addFault({ target: "api", path: "*", kind: "systemError", probability: 0.01 });
  w.sim.addFault({ target: "api", path: "*", kind: "systemError", probability: 0.01, applied: true });
  w.sim.addFault({ target: "api", path: "*", kind: "frequencyLimited", probability: 0.015 });
  // The connection drops (after 2 ms, not the client's 5 s timeout: the suite stays fast; the
  // Worker sees the same network failure). Half of them after WeChat acted on the call.
  w.sim.addFault({ target: "api", path: "*", kind: "timeout", ms: 2, probability: 0.0075 });
  w.sim.addFault({ target: "api", path: "*", kind: "timeout", ms: 2, probability: 0.0075, applied: true });
  // Notifications: 30% dropped for good (every retry lost too).
  w.sim.addFault({ target: "notify", kind: "drop", probability: 0.3 });
  // Of the rest, ~3/7 duplicated (≈30% of all): concurrently or one after the other.
  w.sim.addFault({ target: "notify", kind: "duplicate", copies: 2, concurrent: true, probability: 0.22 });
  w.sim.addFault({ target: "notify", kind: "duplicate", copies: 3, probability: 0.27 });
  // And delayed (0, 45 s, 4 min or both).
  w.sim.addFault({ target: "notify", kind: "delay", ms: 45_000, probability: 0.5 });
  w.sim.addFault({ target: "notify", kind: "delay", ms: 4 * MIN, probability: 0.5 });
}

/** Keeps a reorder fault active: notifications are held in groups and released newest first. */
function keepReordering(w: World, rng: Rng): void {
  if (!w.sim.listFaults().some((f) => f.spec.kind === "reorder")) {
    w.sim.addFault({ target: "notify", kind: "reorder", count: rng.int(2, 6) });
  }
}

describe("fault suite: payments under a misbehaving WeChat", () => {
  it(`${ORDERS} orders, lost/duplicated/reordered notifications, failing API calls → the cron converges on WeChat's truth`, { timeout: 600_000 }, async () => {
    const started = Date.now();
    const rng = new Rng(SEED);
    const hookRng = new Rng(SEED + 1);
    const fulfilled = new Map<string, number>();
    let hookCalls = 0;
    let hookFailures = 0;
    const w = createWorld({
      random: seededRandom(SEED),
      env: { LOGIN_RATE_LIMIT: "0", ORDER_RATE_LIMIT: "0" },
      sim: { random: seededRandom(SEED + 2), faultSeed: SEED + 3, refundAutoSettleMs: 3 * MIN },
      fulfil: async (o: PaidOrderForFulfilment) => {
        hookCalls++;
        if (hookRng.chance(0.1)) {
          hookFailures++;
          throw new Error("warehouse unavailable (injected)");
        }
        fulfilled.set(o.id, (fulfilled.get(o.id) ?? 0) + 1);
      },
    });
    addFaults(w);
    const watch = new SecretWatch(w);

    const journeys: Journey[] = [];
    const laterPayments: Journey[] = [];
    const reports: { failed: number; changed: number }[] = [];
    let user: { token: string; openid: string } | null = null;
    let refundsAsked = 0;
    const refundAnswers: Record<number, number> = {};
    let nextCron = w.clock.now() + MIN;

    const tick = async () => {
      keepReordering(w, rng);
      await w.sim.deliverDue();
      if (w.clock.now() >= nextCron) {
        const r = await runCron(w);
        if (r) reports.push({ failed: r.failed, changed: r.changed });
        nextCron += MIN;
      }
    };

    const pay = async (j: Journey, payment: PaymentJson | null) => {
      const params = payment ?? (await payParamsRetrying(w, j.token, j.placed.order.id));
      if (!params) return;
      await w.sim.pay(params, { openid: j.openid });
      // Some mini programs ask for the result right away (GET ?sync=true).
      if (rng.chance(0.15)) await w.request("GET", `/v1/orders/${j.placed.order.id}?sync=true`, { token: j.token });
    };

    /** An admin refunds part (or the rest) of a paid order, retrying with the same key on 502. */
    const refundSome = async () => {
      const candidates = (await allOrders()).filter((o) => (o.status === "PAID" || o.status === "PARTIALLY_REFUNDED") && o.refunded_amount < o.amount);
      if (!candidates.length) return;
      const o = rng.pick(candidates);
      const left = o.amount - o.refunded_amount;
      const amount = rng.chance(0.3) ? left : Math.max(1, Math.floor(left * rng.next() * 0.6));
      const key = `refund-${refundsAsked++}`;
      for (let attempt = 0; attempt < 3; attempt++) {
        const res = await w.request("POST", `/admin/orders/${o.id}/refunds`, { json: { amount, reason: "fault suite" }, headers: { ...ADMIN, "idempotency-key": key } });
        refundAnswers[res.status] = (refundAnswers[res.status] ?? 0) + 1;
        if (res.status !== 502) break;
      }
    };

    // ---- Phase 1: shoppers order and pay while everything misbehaves ----------------------
    for (let i = 0; i < ORDERS; i++) {
      w.clock.advance(rng.int(1, 4) * 1000);
      if (i % 2 === 0 || !user) user = await loginRetrying(w, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      const items = [...new Set(Array.from({ length: rng.int(1, 3) }, () => rng.pick(PRODUCTS)))].map((productId) => ({ productId, quantity: rng.int(1, 3) }));
      const placed = await placeRetrying(w, user.token, items, `order-${i}`);
      if (!placed) continue;
      const r = rng.next();
      const fate: Fate = r < 0.62 ? "pay" : r < 0.75 ? "payLater" : r < 0.82 ? "cancel" : "abandon";
      const j: Journey = { i, token: user.token, openid: user.openid, placed, fate, payAt: w.clock.now() + rng.int(1, 25) * MIN };
      journeys.push(j);
      if (fate === "pay") await pay(j, placed.payment);
      else if (fate === "payLater") laterPayments.push(j);
      else if (fate === "cancel") await w.request("POST", `/v1/orders/${placed.order.id}/cancel`, { token: user.token });
      // Shoppers who come back to pay.
      for (const later of laterPayments.filter((l) => l.payAt <= w.clock.now())) {
        laterPayments.splice(laterPayments.indexOf(later), 1);
        await pay(later, null);
      }
      if (i >= 50 && i % 8 === 0) await refundSome();
      await tick();
    }
    for (const later of laterPayments) {
      w.clock.set(Math.max(w.clock.now(), later.payAt));
      await pay(later, null);
      await tick();
    }
    const phase1 = Date.now() - started;

    // ---- Phase 2: the cron job, every minute, until nothing is left to do (bounded) -------
    const lastExpiry = Math.max(...(await allOrders()).map((o) => o.expires_at));
    let runs = 0;
    let quiet = 0;
    for (; runs < 400; runs++) {
      w.clock.advance(MIN);
      nextCron = w.clock.now();
      await w.sim.flush({ rounds: 0 }); // releases what a reorder fault still holds (delivers nothing)
      await tick();
      if (runs % 10 === 0 && refundsAsked < 60) await refundSome();
      const orders = await allOrders();
      const refunds = await allRefunds();
      const pendingNotifications = w.sim.notifications.filter((n) => n.state === "pending" || n.state === "held").length;
      const unsettled =
        orders.filter((o) => o.status === "CREATED" || o.status === "PAYING").length +
        refunds.filter((r) => r.status === "PROCESSING").length +
        (await countUndone()) +
        pendingNotifications;
      if (w.clock.now() > lastExpiry && unsettled === 0) {
        if (++quiet >= 3) break; // three quiet runs in a row: quiescent
      } else quiet = 0;
    }
    const elapsed = Date.now() - started;

    // ---- The truth ------------------------------------------------------------------------
    const diff = await truthDiff(w, fulfilled);
    const orders = await allOrders();
    const refunds = await allRefunds();
    const stats = summary(w, orders, refunds);
    console.log(
      `fault suite: ${orders.length} orders (${stats.paid} paid, ${stats.closed} closed, ${stats.refundedOrders} with refunds), ` +
        `${refunds.length} refunds (${stats.refundSuccess} SUCCESS), ${runs} quiescence runs, ` +
        `notifications: ${stats.notifications} queued, ${stats.dropped} dropped, ${stats.duplicated} duplicated deliveries; ` +
        `API faults hit: ${stats.apiFaultHits}; hook: ${hookCalls} calls, ${hookFailures} failures; ` +
        `refund answers ${JSON.stringify(refundAnswers)}; cron runs with failures: ${reports.filter((r) => r.failed > 0).length}/${reports.length}; ` +
        `phase 1 ${(phase1 / 1000).toFixed(1)} s, total ${(elapsed / 1000).toFixed(1)} s`,
    );
    expect(diff).toEqual([]);
    // Failure paths log more than happy ones: still no key, token, session_key or decrypted body.
    expect(watch.scanFast()).toEqual([]);
    // WeChat failing is never our 500: the only 5xx the Worker gave are the documented 502s.
    const fiveXX = watch.recorded
      .map((r) => ({ what: r.what, status: Number(r.text.slice(0, 3)), body: r.text.slice(r.text.indexOf("\n\n") + 2) }))
      .filter((r) => r.status >= 500);
    for (const r of fiveXX) {
      expect(r.status, `${r.what}: ${r.body.slice(0, 200)}`).toBe(502);
      expect(["payment_provider_error", "upstream_unavailable"], r.what).toContain((JSON.parse(r.body) as { error: { code: string } }).error.code);
    }
    expect(fiveXX.length, "no WeChat failure ever reached a shopper: the faults did not bite").toBeGreaterThan(0);
    console.log(`fault suite: ${fiveXX.length} documented 502 answers, ${watch.responses} answers scanned, ${w.logs.length} log lines scanned`);
    // Every notification delivery was accepted (duplicates and concurrent copies included).
    expect(new Set(w.sim.deliveries.map((d) => d.status))).toEqual(new Set([204, "dropped"]));
    expect(quiet, "the cron job did not converge within the bound").toBeGreaterThanOrEqual(3);

    // The run really exercised what it claims to.
    expect(orders.length).toBeGreaterThanOrEqual(ORDERS * 0.95);
    expect(stats.paid).toBeGreaterThan(ORDERS * 0.5);
    expect(stats.closed).toBeGreaterThan(ORDERS * 0.1);
    expect(stats.dropped / stats.notifications).toBeGreaterThan(0.2);
    expect(stats.duplicated).toBeGreaterThan(stats.notifications * 0.15);
    expect(stats.apiFaultHits).toBeGreaterThan(ORDERS * 0.1);
    expect(stats.refundSuccess).toBeGreaterThan(ORDERS / 50);
    expect(hookFailures).toBeGreaterThan(0);
    expect(reports.some((r) => r.failed > 0)).toBe(true);
    // No PAID without a verified payment: every paid-ish order's transaction is one WeChat has, paid.
    for (const o of orders.filter((x) => x.transaction_id !== null)) {
      const tx = w.sim.getTransaction(o.out_trade_no)!;
      expect(tx.state, o.id).toBe("SUCCESS");
      expect(tx.transactionId).toBe(o.transaction_id);
    }
    // Exactly one PAID transition per paid order, whatever the number of deliveries and queries.
    const transitions = await countByOrder("SELECT order_id, count(*) AS n FROM order_events WHERE to_status = 'PAID' GROUP BY order_id");
    for (const o of orders.filter((x) => x.transaction_id !== null)) expect(transitions.get(o.id), o.id).toBe(1);
    // Nothing a human must look at: no mismatch was ever flagged.
    const flags = await countByOrder("SELECT kind AS order_id, count(*) AS n FROM flags GROUP BY kind");
    expect([...flags.keys()].filter((k) => /mismatch|unknown_order|paid_after_close/.test(k))).toEqual([]);
  });
});

async function countUndone(): Promise<number> {
  const r = await env.DB.prepare("SELECT count(*) AS n FROM fulfilments WHERE status <> 'DONE'").first<{ n: number }>();
  return r?.n ?? 0;
}

async function countByOrder(sql: string): Promise<Map<string, number>> {
  const r = await env.DB.prepare(sql).all<{ order_id: string; n: number }>();
  return new Map(r.results.map((x) => [x.order_id, x.n]));
}

function summary(w: World, orders: { status: string; refunded_amount: number }[], refunds: { status: string }[]) {
  const d = w.sim.deliveries;
  return {
    paid: orders.filter((o) => ["PAID", "PARTIALLY_REFUNDED", "REFUNDED"].includes(o.status)).length,
    closed: orders.filter((o) => o.status === "CLOSED").length,
    refundedOrders: orders.filter((o) => o.refunded_amount > 0).length,
    refundSuccess: refunds.filter((r) => r.status === "SUCCESS").length,
    notifications: w.sim.notifications.length,
    dropped: w.sim.notifications.filter((n) => n.state === "dropped").length,
    duplicated: d.filter((x) => x.copy > 1).length,
    apiFaultHits: w.sim.listFaults().filter((f) => f.spec.target === "api").reduce((s, f) => s + f.hits, 0),
  };
}

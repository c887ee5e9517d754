/**
 * @module test/support/chaos — helpers for the fault suite: a shopper journey that tolerates a
 * misbehaving WeChat (retries like a real client would), the cron job driven on the fake clock,
 * a D1 binding that fails on demand, and the truth check (Worker's D1 vs the simulator).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { runScheduled } from "../../src/scheduled";
import type { ReconcileReport } from "../../src/reconcile/report";
import type { OrderJson, PaymentJson } from "./shop";
import type { World } from "./world";

/** Logs a new user in, retrying (with a fresh wx.login code) what a flaky WeChat breaks. */
export async function loginRetrying(w: World, ip: string, attempts = 6): Promise<{ token: string; openid: string; userId: string }> {
  let last = "";
  for (let i = 0; i < attempts; i++) {
    const { code, openid } = w.sim.mintCode();
    const res = await w.request("POST", "/v1/auth/login", { json: { code }, headers: { "cf-connecting-ip": ip } });
    if (res.status === 200) {
      const b = (await res.json()) as { token: string; user: { id: string } };
      return { token: b.token, openid, userId: b.user.id };
    }
    last = `${res.status} ${await res.text()}`;
    if (res.status !== 502 && res.status !== 429 && res.status !== 401) break;
  }
  throw new Error(`login kept failing: ${last}`);
}

export interface Placed {
  order: OrderJson;
  /** null when every prepay attempt failed (the order stays CREATED). */
  payment: PaymentJson | null;
}

/** POST /v1/orders with an Idempotency-Key, repeating it (same key, same body) on 502. */
export async function placeRetrying(w: World, token: string, items: { productId: string; quantity: number }[], key: string, attempts = 3): Promise<Placed | null> {
  let order: OrderJson | null = null;
  for (let i = 0; i < attempts; i++) {
    const res = await w.request("POST", "/v1/orders", { json: { items }, token, headers: { "idempotency-key": key } });
    if (res.status === 201 || res.status === 200) {
      const b = (await res.json()) as { order: OrderJson; payment: PaymentJson };
      return { order: b.order, payment: b.payment };
    }
    if (res.status !== 502) throw new Error(`create failed: ${res.status} ${await res.text()}`);
    order = null;
  }
  // Every attempt failed at WeChat: the order exists (CREATED); find it through the list.
  const list = await w.request("GET", "/v1/orders?limit=100", { token });
  const orders = ((await list.json()) as { orders: OrderJson[] }).orders;
  order = orders.find((o) => o.status === "CREATED") ?? null;
  return order ? { order, payment: null } : null;
}

/** POST /v1/orders/:id/pay, retried on 502; null when it keeps failing or the order is not payable. */
export async function payParamsRetrying(w: World, token: string, id: string, attempts = 3): Promise<PaymentJson | null> {
  for (let i = 0; i < attempts; i++) {
    const res = await w.request("POST", `/v1/orders/${id}/pay`, { token });
    if (res.status === 200) return ((await res.json()) as { payment: PaymentJson }).payment;
    if (res.status !== 502) return null;
  }
  return null;
}

/** The Worker's scheduled handler body, with the world's deps, at the world's clock. */
export async function runCron(w: World, e: Env = w.env): Promise<ReconcileReport | null> {
  const ctx = createExecutionContext();
  const p = runScheduled(e, w.deps, { scheduledTime: w.clock.now(), cron: "* * * * *" });
  ctx.waitUntil(p);
  await waitOnExecutionContext(ctx);
  return p;
}

/** env.DB with `batch` and/or `prepare` replaced (each given the real binding); the rest passes through. */
export function wrapD1(overrides: {
  batch?: (real: D1Database, stmts: D1PreparedStatement[]) => Promise<D1Result[]>;
  prepare?: (real: D1Database, sql: string) => D1PreparedStatement;
}): D1Database {
  return new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "batch" && overrides.batch) return (stmts: D1PreparedStatement[]) => overrides.batch!(target, stmts);
      if (prop === "prepare" && overrides.prepare) return (sql: string) => overrides.prepare!(target, sql);
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** env.DB whose next `failBatches` batches throw (after letting `skip` batches through, e.g. a run's lease). */
export function flakyD1(): { db: D1Database; failBatches: (n: number, skip?: number) => void; failures: () => number } {
  let batches = 0;
  let skipping = 0;
  let failures = 0;
  const db = wrapD1({
    batch: async (real, stmts) => {
      if (batches > 0 && skipping > 0) {
        skipping--;
        return real.batch(stmts);
      }
      if (batches > 0) {
        batches--;
        failures++;
        throw new Error("D1_ERROR: simulated storage failure (batch)");
      }
      return real.batch(stmts);
    },
  });
  return {
    db,
    failBatches: (n, skip = 0) => {
      batches = n;
      skipping = skip;
    },
    failures: () => failures,
  };
}

export interface OrderRowLite {
  id: string;
  out_trade_no: string;
  status: string;
  amount: number;
  refunded_amount: number;
  transaction_id: string | null;
  expires_at: number;
}

export async function allOrders(): Promise<OrderRowLite[]> {
  const r = await env.DB.prepare("SELECT id, out_trade_no, status, amount, refunded_amount, transaction_id, expires_at FROM orders ORDER BY id").all<OrderRowLite>();
  return r.results;
}

export interface RefundRowLite {
  id: string;
  order_id: string;
  out_refund_no: string;
  amount: number;
  status: string;
}

export async function allRefunds(): Promise<RefundRowLite[]> {
  const r = await env.DB.prepare("SELECT id, order_id, out_refund_no, amount, status FROM refunds ORDER BY id").all<RefundRowLite>();
  return r.results;
}

/**
 * Every disagreement between the Worker's D1 and the simulator (WeChat's truth), in words.
 * Empty means: paid ↔ PAID (or refunded) with WeChat's transaction id and amount; unpaid past
 * expiry ↔ CLOSED (and closed at WeChat); refunds equal WeChat's, their sum equal to
 * refundedAmount, never above the amount paid; fulfilment exactly once per paid order.
 */
export async function truthDiff(w: World, fulfilled: Map<string, number>, only?: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  // Storage is per test file: other tests' orders (another simulator's) are not this world's.
  const orders = (await allOrders()).filter((o) => !only || only.has(o.id));
  const refunds = await allRefunds();
  const byOrder = new Map<string, RefundRowLite[]>();
  for (const r of refunds) byOrder.set(r.order_id, [...(byOrder.get(r.order_id) ?? []), r]);
  const paidStates = new Set(["PAID", "PARTIALLY_REFUNDED", "REFUNDED"]);
  const now = w.clock.now();
  for (const o of orders) {
    const tx = w.sim.getTransaction(o.out_trade_no);
    const paidAtWechat = tx?.state === "SUCCESS";
    if (paidAtWechat) {
      if (!paidStates.has(o.status)) out.push(`${o.id}: paid at WeChat, ${o.status} here`);
      if (o.transaction_id !== tx!.transactionId) out.push(`${o.id}: transaction id ${o.transaction_id} ≠ WeChat's ${tx!.transactionId}`);
      if (o.amount !== tx!.total) out.push(`${o.id}: amount ${o.amount} ≠ WeChat's ${tx!.total}`);
      if ((fulfilled.get(o.id) ?? 0) !== 1) out.push(`${o.id}: fulfilled ${fulfilled.get(o.id) ?? 0} times`);
    } else {
      if (paidStates.has(o.status)) out.push(`${o.id}: ${o.status} here without a payment at WeChat (${tx?.state ?? "unknown there"})`);
      if (now >= o.expires_at && o.status !== "CLOSED") out.push(`${o.id}: unpaid past expiry but ${o.status}`);
      if (o.status === "CLOSED" && tx && tx.state !== "CLOSED") out.push(`${o.id}: CLOSED here, ${tx.state} at WeChat`);
      if (fulfilled.has(o.id)) out.push(`${o.id}: fulfilled without payment`);
    }
    // Refunds: ours vs WeChat's, and the sums.
    const mine = byOrder.get(o.id) ?? [];
    let succeeded = 0;
    let live = 0;
    for (const r of mine) {
      const theirs = w.sim.getRefund(r.out_refund_no);
      if (r.status === "SUCCESS") succeeded += r.amount;
      if (r.status === "SUCCESS" || r.status === "PROCESSING") live += r.amount;
      if (!theirs) {
        if (r.status !== "CLOSED") out.push(`refund ${r.id}: ${r.status} here, unknown at WeChat`);
        continue;
      }
      if (theirs.status !== r.status) out.push(`refund ${r.id}: ${r.status} here, ${theirs.status} at WeChat`);
      if (theirs.refund !== r.amount) out.push(`refund ${r.id}: amount ${r.amount} ≠ WeChat's ${theirs.refund}`);
    }
    const atWechat = w.sim.listRefunds().filter((r) => r.outTradeNo === o.out_trade_no);
    for (const r of atWechat) {
      if (!mine.some((m) => m.out_refund_no === r.outRefundNo)) out.push(`${o.id}: WeChat has refund ${r.outRefundNo} we do not`);
    }
    if (live > o.amount) out.push(`${o.id}: refunds ${live} above the amount ${o.amount}`);
    if (o.refunded_amount !== succeeded) out.push(`${o.id}: refundedAmount ${o.refunded_amount} ≠ sum of successful refunds ${succeeded}`);
    if (paidAtWechat) {
      const want = succeeded === 0 ? "PAID" : succeeded === o.amount ? "REFUNDED" : "PARTIALLY_REFUNDED";
      if (o.status !== want) out.push(`${o.id}: ${o.status}, expected ${want} (refunded ${succeeded} of ${o.amount})`);
    }
  }
  return out;
}

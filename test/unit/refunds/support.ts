/**
 * @module test/unit/refunds/support — helpers for the refund, admin and cron tests: admin calls
 * with the test ADMIN_TOKEN, a paid order (paid at the simulator, notification delivered), and
 * running the reconciliation job with the world's injected clock and fetch.
 */
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../../../src/db/schema";
import { runReconciliation, type ReconcileOptions } from "../../../src/reconcile/job";
import type { ReconcileReport } from "../../../src/reconcile/report";
import type { RefundCtx } from "../../../src/refunds/transition";
import { ADMIN_TOKEN } from "../../fixtures/keys";
import { getOrder, paidAtWechat, type OrderJson } from "../../support/shop";
import type { World } from "../../support/world";

export interface RefundJson {
  id: string;
  orderId: string;
  outRefundNo: string;
  amount: number;
  status: string;
  reason: string | null;
  createdAt: string;
  settledAt: string | null;
}

export function admin(w: World, method: string, path: string, opts: { json?: unknown; key?: string; token?: string | null; ip?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (opts.key) headers["idempotency-key"] = opts.key;
  if (opts.ip) headers["cf-connecting-ip"] = opts.ip;
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  return w.request(method, path, { ...(opts.json !== undefined ? { json: opts.json } : {}), headers, ...(token ? { token } : {}) });
}

/** A PAID order (paid at the simulator, TRANSACTION.SUCCESS delivered through /v1/pay/notify). */
export async function paidOrder(w: World, items?: { productId: string; quantity: number }[]) {
  const r = await paidAtWechat(w, items);
  await w.sim.flush();
  const order = await getOrder(w, r.user.token, r.order.id);
  if (order.status !== "PAID") throw new Error(`order not PAID after the notification: ${order.status}`);
  return { ...r, order };
}

let keys = 0;

/** POST a refund; `key` defaults to a fresh Idempotency-Key (required), `null` sends none. */
export async function postRefund(w: World, orderId: string, body: unknown, key?: string | null): Promise<{ status: number; body: { refund?: RefundJson; error?: { code: string; message: string } } }> {
  const k = key === undefined ? `test-refund-${++keys}` : key;
  const res = await admin(w, "POST", `/admin/orders/${orderId}/refunds`, { json: body, ...(k ? { key: k } : {}) });
  return { status: res.status, body: (await res.json()) as { refund?: RefundJson; error?: { code: string; message: string } } };
}

export async function adminOrder(w: World, id: string): Promise<{ order: OrderJson; history: { from: string; to: string; source: string; at: string; detail: unknown }[]; refunds: RefundJson[]; notifications: { id: string; eventType: string; receivedAt: string; outcome: string }[]; flags: { kind: string; detail: unknown; at: string }[] }> {
  const res = await admin(w, "GET", `/admin/orders/${id}`);
  if (res.status !== 200) throw new Error(`admin order: ${res.status} ${await res.text()}`);
  return (await res.json()) as never;
}

export async function getRefundJson(w: World, id: string): Promise<RefundJson> {
  const res = await admin(w, "GET", `/admin/refunds/${id}`);
  if (res.status !== 200) throw new Error(`admin refund: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { refund: RefundJson }).refund;
}

export function runJob(w: World, opts: Partial<ReconcileOptions> = {}): Promise<ReconcileReport> {
  return runReconciliation(w.env, w.deps, { trigger: "admin", ...opts });
}

export function refundCtx(w: World): RefundCtx {
  return { db: drizzle(w.env.DB, { schema }), deps: w.deps };
}

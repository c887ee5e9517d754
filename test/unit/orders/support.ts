/**
 * @module test/unit/orders/support — helpers shared by the order route and domain tests: a world
 * (Worker + simulator) with a logged-in shopper, typed order calls, row counts.
 */
import { createWorld, type World, type WorldOptions } from "../../support/world";

export type { OrderJson, PaymentJson } from "../../support/shop";
import type { OrderJson, PaymentJson } from "../../support/shop";

export interface ErrorJson {
  error: { code: string; message: string; requestId: string };
}

export interface Shopper {
  token: string;
  userId: string;
  openid: string;
}

export async function setup(opts: WorldOptions = {}): Promise<{ w: World; u: Shopper }> {
  const w = createWorld(opts);
  const u = await w.login();
  return { w, u };
}

export const COFFEE_X2 = { items: [{ productId: "prod_coffee", quantity: 2 }] };

/** Anything that calls the Worker (a world, or a second harness on the same D1 and simulator). */
type Requester = Pick<World, "request">;

export function postOrder(w: Requester, token: string, body: unknown = COFFEE_X2, key?: string): Promise<Response> {
  return w.request("POST", "/v1/orders", { json: body, token, headers: key ? { "idempotency-key": key } : {} });
}

/** Creates an order and expects 201; returns the order and payment params. */
export async function createPaying(w: Requester, token: string, body: unknown = COFFEE_X2): Promise<{ order: OrderJson; payment: PaymentJson }> {
  const res = await postOrder(w, token, body);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { order: OrderJson; payment: PaymentJson };
}

export async function errorOf(res: Response): Promise<ErrorJson["error"]> {
  return ((await res.json()) as ErrorJson).error;
}

export function calls(w: World, key: string): number {
  return w.sim.stats().calls[key] ?? 0;
}

export const JSAPI = "POST /v3/pay/transactions/jsapi";
export const queryKey = (outTradeNo: string) => `GET /v3/pay/transactions/out-trade-no/${outTradeNo}`;
export const closeKey = (outTradeNo: string) => `POST /v3/pay/transactions/out-trade-no/${outTradeNo}/close`;

export async function count(w: World, sql: string, ...params: unknown[]): Promise<number> {
  const row = await w.env.DB.prepare(sql).bind(...params).first<{ n: number }>();
  return row?.n ?? 0;
}

export async function orderRow(w: World, id: string): Promise<Record<string, unknown>> {
  const row = await w.env.DB.prepare("SELECT * FROM orders WHERE id = ?").bind(id).first<Record<string, unknown>>();
  if (!row) throw new Error(`no order ${id}`);
  return row;
}

/** A real sleep, for tests where a waiting request must actually wait. */
export const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

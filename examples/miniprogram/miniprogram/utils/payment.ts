/**
 * After wx.requestPayment, whatever it said, ask the server: GET /v1/orders/:id?sync=true makes
 * the Worker query WeChat when the notification has not arrived yet. Never trust the client
 * result alone — it can say "ok" for a payment WeChat has not confirmed, or "fail" for one that
 * went through.
 */
import { api } from "../api/client";
import type { Order } from "../api/types";

export const CONFIRM = {
  /** After "requestPayment:ok": the notification is usually there within a second. */
  afterSuccess: { attempts: 6, intervalMs: 1000 },
  /** After a failure or cancel: one check (the payment may still have gone through). */
  afterFailure: { attempts: 1, intervalMs: 0 },
};

const UNPAID: ReadonlyArray<Order["status"]> = ["CREATED", "PAYING"];

export function isSettled(order: Order): boolean {
  return !UNPAID.includes(order.status);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls the server until the order leaves CREATED/PAYING or the attempts run out. */
export async function confirmOrder(orderId: string, policy: { attempts: number; intervalMs: number }): Promise<Order> {
  let order: Order | null = null;
  for (let i = 0; i < policy.attempts; i += 1) {
    if (i > 0) await sleep(policy.intervalMs);
    order = (await api.order(orderId, true)).order;
    if (isSettled(order)) return order;
  }
  if (!order) throw new Error("confirmOrder: attempts must be at least 1");
  return order;
}

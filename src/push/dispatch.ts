/**
 * @module push/dispatch — the work a stored push still needs after WeChat has its `success`
 * (SPEC §9): `trade_manage_order_settlement` → refresh the order's shipping record from
 * `get_order` (RECEIVED/SETTLED from its `order_state`, never from the push's
 * `confirm_receive_method`). Flags were already written with the event (push/store.ts).
 * The event ends `applied` (or `failed` with the error); the cron's own get_order refresh of
 * shipped orders converges on the same state either way.
 */
import type { Config } from "../config";
import type { AppDeps, Db } from "../context";
import type { Logger } from "../lib/log";
import type { PushEvent } from "./event";
import { PUSH_EVENTS } from "./event";
import { finishPushEvent, type StoredPush } from "./store";
import { d1Of } from "../orders/repository";
import { refreshShippingFromWechat } from "../shipping/service";

export interface DispatchContext {
  db: Db;
  deps: AppDeps;
  config: Config;
  log: Logger;
}

export async function dispatchPushEvent(ctx: DispatchContext, ev: PushEvent, stored: StoredPush): Promise<void> {
  if (ev.event !== PUSH_EVENTS.orderSettlement) return;
  const now = () => ctx.deps.clock.now();
  if (!ev.transactionId) {
    await finishPushEvent(ctx.db, now(), stored.id, { status: "failed", error: "no transaction_id in the push" });
    return;
  }
  try {
    const status = await refreshShippingFromWechat({ ...ctx, d1: d1Of(ctx.db) }, { transactionId: ev.transactionId });
    await finishPushEvent(ctx.db, now(), stored.id, { status: "applied", ...(status === null ? { error: "not one of our payments" } : {}) });
  } catch (err) {
    ctx.log.warn("settlement push: shipping refresh failed; the cron refreshes it later", { pushEventId: stored.id, reason: (err as Error).message });
    await finishPushEvent(ctx.db, now(), stored.id, { status: "failed", error: (err as Error).message });
  }
}

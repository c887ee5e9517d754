/**
 * @module push/dispatch — the work a stored push still needs after WeChat has its `success`
 * (SPEC §9): `trade_manage_order_settlement` → refresh the order's shipping record from
 * `get_order` (RECEIVED/SETTLED from its `order_state`, never from the push's
 * `confirm_receive_method`). Flags were already written with the event (push/store.ts).
 *
 * Until the shipping refresh exists the event stays `pending`; the cron's own get_order refresh
 * of shipped orders converges on the same state either way.
 */
import type { Config } from "../config";
import type { AppDeps, Db } from "../context";
import type { Logger } from "../lib/log";
import type { PushEvent } from "./event";
import { PUSH_EVENTS } from "./event";
import type { StoredPush } from "./store";

export interface DispatchContext {
  db: Db;
  deps: AppDeps;
  config: Config;
  log: Logger;
}

export async function dispatchPushEvent(ctx: DispatchContext, ev: PushEvent, stored: StoredPush): Promise<void> {
  if (ev.event !== PUSH_EVENTS.orderSettlement) return;
  ctx.log.debug("settlement push stored; waiting for the shipping refresh", { pushEventId: stored.id, orderId: stored.orderId });
}

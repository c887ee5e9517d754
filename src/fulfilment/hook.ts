/**
 * @module fulfilment/hook — THE function to edit: what your shop does once an order is paid.
 *
 * `fulfilOrder` runs exactly once per paid order after the payment is durably recorded: right
 * after the response (`waitUntil`), and again from the cron job until it succeeds if it throws.
 * It never runs twice at the same time for one order while it stays within its 5-minute lease
 * (past it, the cron job takes over and only that run's outcome counts), and never again once it
 * has succeeded.
 * Throw to ask for a retry (the error message is recorded on the order's fulfilment row).
 * Make external side effects idempotent by `order.id` (e.g. pass it as your own idempotency
 * key): if the Worker dies after your side effect but before the success is recorded, the job
 * runs the hook again. Call out with `ctx.fetch` and use `ctx.env.DB`: in the cron job they are
 * counted against the plan's per-run limits (WORKERS_PLAN; a hook may use 2 requests and 3
 * queries per order there — raise FULFILMENT_COST in src/reconcile/fulfilments.ts for more).
 *
 * Return `{ shipping: {...} }` for goods you delivered yourself — a top-up, a card, a download
 * (`{ logisticsType: "virtual" }`) — and the shipment is uploaded to WeChat's shipping-info
 * management once (SPEC §9); physical goods are shipped from `POST /admin/orders/:id/shipping`.
 */
import type { FulfilmentHook } from "../context";

/** The demo catalogue's one item with nothing to send (the one-fen test item, seeds/demo-catalogue.sql). */
const VIRTUAL_PRODUCTS = new Set(["prod_cent"]);

export const fulfilOrder: FulfilmentHook = async (order, { logger }) => {
  // Replace this with your business logic: grant the purchased goods, call your warehouse, …
  // (The fulfilments row — DONE, done_at — is the durable record; this line shows under
  // LOG_LEVEL=debug, which `npm run dev` sets.)
  logger.debug("order fulfilled", {
    orderId: order.id,
    outTradeNo: order.outTradeNo,
    amount: order.amount,
    lines: order.items.length,
  });
  // Nothing physical to send: tell WeChat it is delivered (virtual goods, logistics_type 3).
  if (order.items.every((i) => VIRTUAL_PRODUCTS.has(i.productId))) return { shipping: { logisticsType: "virtual" } };
  return undefined;
};

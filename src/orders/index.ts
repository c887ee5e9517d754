/**
 * @module orders — what other modules (notify route, reconciler, admin, refunds) use of orders:
 * the one status path (`applyTransaction` for WeChat transactions, `applyEvent` for other events),
 * the one conditional writer, reads, and the pure state machine and normaliser.
 */
export { applyEvent, applyTransaction, type ApplyContext, type ApplyOptions, type ApplyResult, type EventOptions } from "./apply";
export { crossCheck, interpretTransaction, normalizeTransaction, type Mismatch, type MismatchKind, type NormalizedTransaction } from "./normalize";
export {
  claimQuery,
  d1Of,
  findOrderById,
  findOrderByOutTradeNo,
  findOrderForUser,
  insertFlags,
  itemsForOrders,
  type OrderItemRow,
  type OrderRow,
  type TransitionPatch,
  type TransitionRequest,
  type TransitionResult,
  WON_GUARD,
  writeTransition,
} from "./repository";
export { decide, isPaid, isPayable, type Decision, type OrderEvent, type Status } from "./state";
export { toOrderView, type OrderView } from "./format";

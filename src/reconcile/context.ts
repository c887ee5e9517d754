/**
 * @module reconcile/context — what every reconciliation task gets: D1, the injected deps, the
 * configuration, WeChat Pay (only through its port), the order-apply context (the same one the
 * routes use), the run's batch limits and budget, and a recorder for item failures. Its `db`,
 * `deps.fetch` and `env.DB` are the run's metered ones (reconcile/budget.ts).
 */
import type { Config } from "../config";
import type { AppDeps, Db } from "../context";
import type { Logger } from "../lib/log";
import type { ApplyContext } from "../orders/apply";
import type { RefundServiceCtx } from "../refunds/submit";
import type { WechatPay } from "../wechat/pay";
import type { ItemCost, RunBudget } from "./budget";
import type { TaskName, TaskStats } from "./report";

export interface ReconcileLimits {
  /** PAYING orders queried per run. */
  payingOrders: number;
  /** Expired orders queried/closed per run. */
  expiredOrders: number;
  /** Refunds queried per run. */
  refunds: number;
  /** Fulfilments retried per run. */
  fulfilments: number;
  /** Unpaid-locally orders the bill check queries right away. */
  billFollowUps: number;
}

export const DEFAULT_LIMITS: ReconcileLimits = {
  payingOrders: 50,
  expiredOrders: 50,
  refunds: 50,
  fulfilments: 50,
  billFollowUps: 20,
};

export interface ItemError {
  task: string;
  /** Order or refund id, bill date… */
  id: string | null;
  code: string;
  message: string;
}

export interface JobContext {
  env: Env;
  db: Db;
  deps: AppDeps;
  config: Config;
  pay: WechatPay;
  log: Logger;
  limits: ReconcileLimits;
  /** Time, requests and queries this run may still spend. */
  budget: RunBudget;
  /** The same context the order routes give `applyEvent`/`applyTransaction`. */
  orders: ApplyContext;
  /** The same context the admin refund route uses. */
  refunds: RefundServiceCtx;
  /** Records one failed item (the run goes on). */
  fail(task: string, id: string | null, err: unknown): void;
}

/** A stable code and a short message for any error (never a body, key or token). */
export function describeError(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e && typeof e === "object" && typeof e.code === "string") {
    return { code: e.code, message: String(e.message ?? "").slice(0, 300) };
  }
  if (err instanceof Error) return { code: err.name, message: err.message.slice(0, 300) };
  return { code: "unknown", message: String(err).slice(0, 300) };
}

/**
 * The per-item loop of the bounded tasks: each item counts as scanned, as changed when `work`
 * says so; a failure is counted, recorded under `task`, and the item pushed back (a failing
 * push-back is ignored: the item stays due). One item never stops the others; the budget does:
 * an item starts only if its worst case (`cost`, push-back included; per item when items differ)
 * still fits, and the items left are reported. Returns whether every item was taken.
 */
export async function forEachDue<T extends { id: string }>(
  ctx: JobContext,
  task: TaskName,
  items: readonly T[],
  stats: TaskStats,
  cost: ItemCost | ((item: T) => ItemCost),
  work: (item: T) => Promise<boolean>,
  pushBack: (item: T) => Promise<unknown>,
): Promise<boolean> {
  for (const [i, item] of items.entries()) {
    const c = typeof cost === "function" ? cost(item) : cost;
    if (!ctx.budget.canSpend(c.requests, c.queries)) {
      ctx.budget.leave(task, items.length - i);
      return false;
    }
    stats.scanned++;
    try {
      if (await work(item)) stats.changed++;
    } catch (err) {
      stats.failed++;
      ctx.fail(task, item.id, err);
      await pushBack(item).catch(() => {});
    }
  }
  return true;
}

/**
 * @module reconcile/fulfilments — the fulfilment task: runs the due outbox rows (PENDING and due,
 * or RUNNING with an expired lease) through `runFulfilment`, oldest first, one at a time while
 * the run's budget allows another one. The hook gets the run's metered `fetch` and `env.DB`.
 */
import { dueFulfilments, runFulfilment } from "../fulfilment/runner";
import type { ItemCost } from "./budget";
import { forEachDue, type JobContext } from "./context";
import type { TaskStats } from "./report";

/**
 * The claim batch (3 statements) and the outcome (2 with a flag; DONE is 1, then a shipment the
 * hook returned is recorded (1) with the buyer's phone read for SF (1) — its upload is the
 * shipping task's item, later in the run), plus what the merchant's hook may use: 2 requests and
 * 3 queries (through `ctx.fetch` and `env.DB`, which are counted; a hook that needs more should
 * raise these numbers).
 */
export const FULFILMENT_COST: ItemCost = { requests: 2, queries: 9 };

export async function runDueFulfilments(ctx: JobContext, now: number, stats: TaskStats): Promise<void> {
  const ids = await dueFulfilments(ctx.db, now, ctx.limits.fulfilments);
  await forEachDue(
    ctx,
    "fulfilments",
    ids.map((id) => ({ id })),
    stats,
    FULFILMENT_COST,
    async ({ id }) => {
      const outcome = await runFulfilment(ctx.db, ctx.deps, ctx.env, id, "record");
      if (outcome === "failed") throw new HookFailed();
      return outcome === "done";
    },
    // The runner has already put a failed row back with its back-off; a lease left by a D1 failure expires.
    async () => {},
  );
}

class HookFailed extends Error {
  readonly code = "fulfilment_failed";
  constructor() {
    super("the fulfilment hook threw; retried after its back-off (the error is on the order's fulfilment)");
  }
}

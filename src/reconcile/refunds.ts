/**
 * @module reconcile/refunds — refunds still in flight (PROCESSING, or ABNORMAL waiting for the
 * merchant): query WeChat and feed the answer through the one refund transition writer
 * (source `cron`). A refund WeChat does not know and never acknowledged (the create call's
 * outcome was unknown) is sent again with the SAME out_refund_no, which WeChat refunds at most
 * once (WECHATPAY.md H.1); being a retry, a refusal of it never closes the refund (SPEC §8,
 * refunds/submit.ts).
 */
import { and, eq } from "drizzle-orm";
import { refunds } from "../db/schema";
import { dueRefunds, getOrderRow, type RefundRow } from "../refunds/repository";
import { applyRefundAnswer, submitRefund, unknownToWechat } from "../refunds/submit";
import type { ItemCost } from "./budget";
import { forEachDue, type JobContext } from "./context";
import type { TaskStats } from "./report";
import { RETRY_AFTER_FAILURE_MS, nextRefundCheck } from "./schedule";

/** Query, and a resubmission with the same out_refund_no (each may bring a certificate download); their writes. */
export const REFUND_COST: ItemCost = { requests: 4, queries: 16 };

export async function checkRefunds(ctx: JobContext, now: number, stats: TaskStats): Promise<void> {
  const due = await dueRefunds(ctx.db, now, ctx.limits.refunds);
  await forEachDue(ctx, "refunds", due, stats, REFUND_COST, (refund) => checkOne(ctx, refund), (refund) =>
    pushBack(ctx, refund, ctx.deps.clock.now() + RETRY_AFTER_FAILURE_MS),
  );
}

async function checkOne(ctx: JobContext, refund: RefundRow): Promise<boolean> {
  const now = ctx.deps.clock.now();
  try {
    const answer = await ctx.pay.port.queryRefund(refund.outRefundNo);
    const r = await applyRefundAnswer(ctx.refunds, refund, answer, "cron", { queried: true, nextCheckAt: nextRefundCheck(now, refund.createdAt) });
    if (r === null) await pushBack(ctx, refund, now + 60 * 60_000); // flagged mismatch: slow down
    return r?.kind === "applied";
  } catch (err) {
    if (unknownToWechat(err) && refund.submittedAt === null && refund.status === "PROCESSING") {
      const order = await getOrderRow(ctx.db, refund.orderId);
      if (!order) throw new Error(`order ${refund.orderId} of refund ${refund.id} not found`);
      const outcome = await submitRefund(ctx.refunds, refund, order, "cron");
      if (outcome.kind === "unknown") throw outcome.error;
      if (outcome.kind !== "answered") return false; // unresolved: kept PROCESSING and flagged
      return outcome.result?.kind === "applied" || outcome.result?.kind === "noop";
    }
    throw err;
  }
}

async function pushBack(ctx: JobContext, refund: RefundRow, at: number): Promise<void> {
  await ctx.db
    .update(refunds)
    .set({ nextCheckAt: at, lastQueryAt: ctx.deps.clock.now() })
    .where(and(eq(refunds.id, refund.id), eq(refunds.status, refund.status)));
}

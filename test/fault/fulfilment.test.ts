/**
 * Fault suite, a fulfilment hook slower than its lease (SPEC §8: "fulfilment completion is
 * conditional on the claim"). The notify request's claimed run is still inside the hook when
 * its lease runs out and the cron job takes the row over; whatever the first run then reports,
 * it writes nothing: the outcome recorded is the current claimant's.
 */
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import type { PaidOrderForFulfilment } from "../../src/context";
import * as schema from "../../src/db/schema";
import { FULFILMENT_LEASE_MS, retryDueFulfilments } from "../../src/fulfilment/runner";
import { paidAtWechat } from "../support/shop";
import { createWorld, type World } from "../support/world";

const row = (id: string) =>
  env.DB.prepare("SELECT status, attempts, last_error AS lastError FROM fulfilments WHERE order_id = ?").bind(id).first<{ status: string; attempts: number; lastError: string | null }>();

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

/**
 * Run 1 (the notify request's claimed run) outlives its lease: inside it the clock passes the
 * lease and the cron job claims the row (run 2, attempt 2), whose hook waits until released.
 * Run 1 ends with `first` while run 2 still holds the row; then run 2 ends with `second`.
 */
async function slowHookTakenOver(first: "succeeds" | "fails", second: "succeeds" | "fails") {
  const secondStarted = deferred();
  const releaseSecond = deferred();
  const calls: string[] = [];
  let w!: World;
  let takeover: Promise<unknown> | null = null;
  w = createWorld({
    fulfil: async (o: PaidOrderForFulfilment) => {
      calls.push(o.id);
      if (calls.length === 1) {
        w.clock.advance(FULFILMENT_LEASE_MS + 1_000);
        takeover = retryDueFulfilments(drizzle(env.DB, { schema }), w.deps, w.env, 10);
        await secondStarted.promise;
        if (first === "fails") throw new Error("first run: warehouse timed out");
        return;
      }
      if (calls.length === 2) {
        secondStarted.resolve();
        await releaseSecond.promise;
        if (second === "fails") throw new Error("second run: warehouse down");
      }
    },
  });
  const { order } = await paidAtWechat(w);
  await w.sim.flush(); // PAID; run 1 claimed in the paying batch, runs after the response, ends
  expect(w.sim.deliveries.map((d) => d.status)).toEqual([204]);
  // Run 1 has finished; run 2 still holds the row: run 1 wrote nothing.
  expect(await row(order.id)).toEqual({ status: "RUNNING", attempts: 2, lastError: null });
  expect(w.logs.some((l) => l.includes("lease was taken over"))).toBe(true);
  releaseSecond.resolve();
  expect(takeover).not.toBeNull();
  await takeover;
  return { w, order, calls };
}

describe("fault: a fulfilment hook slower than its lease", () => {
  it("the superseded run succeeds late, the current claimant fails: the row is PENDING with the claimant's error, then retried to DONE", async () => {
    const { w, order, calls } = await slowHookTakenOver("succeeds", "fails");
    expect(await row(order.id)).toEqual({ status: "PENDING", attempts: 2, lastError: "Error: second run: warehouse down" });
    w.clock.advance(2 * 60_000 + 1_000); // the back-off after a second failed attempt
    await retryDueFulfilments(drizzle(env.DB, { schema }), w.deps, w.env, 10);
    expect(await row(order.id)).toEqual({ status: "DONE", attempts: 3, lastError: null });
    expect(calls).toHaveLength(3);
  });

  it("the superseded run fails late, the current claimant succeeds: DONE, never freed for a third run", async () => {
    const { w, order, calls } = await slowHookTakenOver("fails", "succeeds");
    expect(await row(order.id)).toEqual({ status: "DONE", attempts: 2, lastError: null });
    w.clock.advance(24 * 3600_000);
    await retryDueFulfilments(drizzle(env.DB, { schema }), w.deps, w.env, 10);
    expect(await row(order.id)).toEqual({ status: "DONE", attempts: 2, lastError: null });
    expect(calls).toHaveLength(2);
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/lib/clock";
import { BudgetExceeded, PLAN_LIMITS, RunBudget } from "../../../src/reconcile/budget";

const T = 1_800_000_000_000;

function budget(over: { queries?: number; subrequests?: number; reserve?: number } = {}) {
  const clock = new FakeClock(T);
  const b = new RunBudget({
    limits: { subrequests: over.subrequests ?? 10, queries: over.queries ?? 10 },
    clock,
    startedAt: T,
    wallMs: 25_000,
    requestTimeoutMs: 3_000,
    reserve: { subrequests: 0, queries: over.reserve ?? 2 },
  });
  return { b, clock };
}

describe("RunBudget", () => {
  it("plans: free 45/45, paid 900/900", () => {
    expect(PLAN_LIMITS).toEqual({ free: { subrequests: 45, queries: 45 }, paid: { subrequests: 900, queries: 900 } });
  });

  it("canSpend: refuses an item whose worst case would pass the deadline, the requests or the queries (minus the reserve); remembers the first reason", () => {
    const { b, clock } = budget();
    expect(b.canSpend(2, 8)).toBe(true);
    expect(b.canSpend(0, 9)).toBe(false); // 10 − 2 reserved
    expect(b.stoppedEarly).toBe("queries");
    expect(b.canSpend(11, 0)).toBe(false);
    expect(b.stoppedEarly).toBe("queries"); // the first reason stays
    clock.advance(20_000);
    expect(b.canSpend(1, 1)).toBe(true); // 20 s + 3 s ≤ 25 s
    expect(b.canSpend(2, 1)).toBe(false); // 20 s + 6 s > 25 s
    clock.advance(5_000);
    expect(b.canSpend(0, 1)).toBe(false); // past the deadline: nothing new at all
  });

  it("time is reported as the reason when it ends the run first", () => {
    const { b, clock } = budget();
    clock.advance(25_000);
    expect(b.canSpend(0, 0)).toBe(false);
    expect(b.stoppedEarly).toBe("time");
  });

  it("metered fetch counts each call and refuses (without sending) past the limit", async () => {
    const { b } = budget({ subrequests: 2 });
    let sent = 0;
    const f = b.fetch(async () => {
      sent++;
      return new Response("ok");
    });
    await f("https://x.test/1");
    await f("https://x.test/2");
    await expect(f("https://x.test/3")).rejects.toThrow(BudgetExceeded);
    expect(sent).toBe(2);
    expect(b.spent.subrequests).toBe(2);
    expect(b.stoppedEarly).toBe("subrequests");
  });

  it("metered D1 counts every statement (each of a batch), keeps the reserve until close(), and refuses past it", async () => {
    const { b } = budget({ queries: 6, reserve: 2 });
    const db = b.d1(env.DB);
    await db.prepare("SELECT ? AS x").bind(1).first();
    await db.prepare("SELECT 1").all();
    await db.batch([db.prepare("SELECT 1"), db.prepare("SELECT ? AS y").bind(2)]);
    expect(b.spent.queries).toBe(4);
    // 4 of 6 used; 2 reserved: the tasks may not use them.
    await expect(db.prepare("SELECT 1").run()).rejects.toThrow(BudgetExceeded);
    await expect(db.batch([db.prepare("SELECT 1")])).rejects.toThrow(BudgetExceeded);
    b.close();
    const [r] = await db.batch<{ z: number }>([db.prepare("SELECT 3 AS z"), db.prepare("SELECT 4 AS z")]);
    expect(r!.results[0]!.z).toBe(3);
    expect(b.spent.queries).toBe(6);
    await expect(db.prepare("SELECT 1").raw()).rejects.toThrow(BudgetExceeded);
  });

  it("leave adds up items per task; not_started marks a task that never ran", () => {
    const { b } = budget();
    b.leave("payingOrders", 3);
    b.leave("payingOrders", 2);
    b.leave("bill", "not_started");
    expect(b.left).toEqual({ payingOrders: 5, bill: "not_started" });
  });
});

// The daily bill check on a merchant id shared with other apps (SPEC §8): foreign rows counted,
// never compared; differences written in budget-sized chunks; a re-run replaces, never duplicates.
import { describe, expect, it } from "vitest";
import { DIFF_CHUNK } from "../../src/reconcile/billstore";
import { T0 } from "../support/harness";
import { MCHID } from "../fixtures/keys";
import { createWorld, type World } from "../support/world";
import { admin, paidOrder, postRefund, runJob } from "../unit/refunds/support";

const DATE = "2026-11-29"; // T0's day in Asia/Shanghai
const NEXT_DAY_1031 = Date.UTC(2026, 10, 30, 2, 31);
const QUIET = { payingOrders: 0, expiredOrders: 0, refunds: 0 };

interface Diff {
  kind: string;
  outTradeNo: string | null;
  outRefundNo: string | null;
  detail: Record<string, unknown>;
}

async function billDiffs(w: World, date: string): Promise<Diff[]> {
  const res = await admin(w, "GET", `/admin/bills/${date}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { diffs: Diff[] }).diffs;
}

const sorted = (ds: Diff[]) => ds.map((d) => JSON.stringify([d.kind, d.outTradeNo, d.outRefundNo, d.detail])).sort();
const billFlags = async (w: World, like: string) =>
  (await w.env.DB.prepare("SELECT count(*) AS n FROM flags WHERE kind LIKE 'bill_%' AND detail LIKE ?").bind(like).first<{ n: number }>())!.n;

describe("daily bill check, merchant id shared with other apps", () => {
  it("600 foreign rows are counted, never diffed or flagged; our differences are right; a re-run gives the same diffs and no new flags", async () => {
    const w = createWorld();
    const a = await paidOrder(w); // local amount will differ
    const d = await paidOrder(w); // one refund settled at WeChat, still PROCESSING here
    const ghost = await paidOrder(w); // held PAID here, but not on WeChat's bill (see below)
    await w.env.DB.prepare("UPDATE orders SET amount = amount + 1 WHERE id = ?").bind(a.order.id).run();
    const r = (await postRefund(w, d.order.id, { amount: 300 }, "shared-r1")).body.refund!;
    await w.sim.settleRefund(r.outRefundNo, "SUCCESS");
    // ghost: WeChat lists it under another app only (the sim's own row moved to the next day).
    w.sim.getTransaction(ghost.order.outTradeNo)!.successTime = T0 + 86_400_000;

    // 500 rows of an official account (same mchid, another appid), 100 of another merchant (our appid,
    // another mchid); some reuse our numbers with other amounts — still not ours.
    w.sim.addForeignBillRows(DATE, { count: 500, appid: "wx0fficia1acc0unt", outTradeNos: [a.order.outTradeNo, ghost.order.outTradeNo] });
    w.sim.addForeignBillRows(DATE, { count: 100, appid: "wxd930ea5d5a258f4f", mchid: "1900000999", outTradeNos: [d.order.outTradeNo] });
    // Two rows of ours that we do not know (e.g. paid through another backend of this app).
    w.sim.addForeignBillRows(DATE, { count: 2, appid: "wxd930ea5d5a258f4f", mchid: MCHID, outTradeNos: ["UNKNOWN_OURS_1", "UNKNOWN_OURS_2"] });

    w.clock.set(NEXT_DAY_1031);
    const r1 = await runJob(w, { limits: QUIET });
    expect(r1.bill).toMatchObject({ status: "checked", billDate: DATE, foreign: 600, rows: 5, consistent: true }); // a, d, d's refund, 2 unknown
    expect(r1.bill.diffs).toEqual({ amount_mismatch: 1, missing_local: 2, missing_remote: 1, status_mismatch: 1 });

    const first = await billDiffs(w, DATE);
    const keys = first.map((x) => [x.kind, x.outTradeNo, x.outRefundNo]);
    expect(keys).toEqual(
      expect.arrayContaining([
        ["amount_mismatch", a.order.outTradeNo, null],
        ["missing_remote", ghost.order.outTradeNo, null],
        ["status_mismatch", d.order.outTradeNo, r.outRefundNo],
        ["missing_local", "UNKNOWN_OURS_1", null],
        ["missing_local", "UNKNOWN_OURS_2", null],
      ]),
    );
    expect(first).toHaveLength(5);
    // Our amount difference compares our row (1800 + 1 vs 1800), never the foreign row with our number.
    expect(first.find((x) => x.kind === "amount_mismatch")!.detail).toMatchObject({ billAmount: a.order.amount, localAmount: a.order.amount + 1 });
    // Nothing foreign anywhere.
    expect(JSON.stringify(first)).not.toMatch(/F\dX|FR\d|0fficia1/);
    expect(await billFlags(w, "%")).toBe(5);
    expect(await billFlags(w, "%F0X%")).toBe(0);
    const check = ((await (await admin(w, "GET", `/admin/bills/${DATE}`)).json()) as { check: Record<string, unknown> }).check;
    expect(check).toMatchObject({ rows: 5, foreign: 600, diffs: 5 });

    // The same date again (an operator's re-check): same differences, no new flags.
    w.clock.advance(60_000);
    const r2 = await runJob(w, { limits: QUIET, billDate: DATE });
    expect(r2.bill).toMatchObject({ status: "checked", foreign: 600, diffs: r1.bill.diffs });
    expect(sorted(await billDiffs(w, DATE))).toEqual(sorted(first));
    expect(await billFlags(w, "%")).toBe(5);
  });

  it("a difference set larger than a free-plan run continues over the next runs, then equals a one-run check", async () => {
    const w = createWorld();
    const date = "2026-11-27";
    const n = 20 * DIFF_CHUNK + 17; // ~4000 unknown rows of ours: 21 chunks, more than one free-plan run holds
    w.sim.addForeignBillRows(date, { count: n, appid: "wxd930ea5d5a258f4f", mchid: MCHID });
    w.sim.addForeignBillRows(date, { count: 600, appid: "wx0fficia1acc0unt" });
    w.clock.set(NEXT_DAY_1031);

    const first = await runJob(w, { limits: QUIET, billDate: date });
    expect(first.bill).toMatchObject({ status: "partial", billDate: date, foreign: 600, total: n });
    expect(first.stoppedEarly).toBe("queries");
    expect(first.left.bill).toBeGreaterThan(0);
    expect(first.budget.spent.queries).toBeLessThanOrEqual(45 - 2);
    const afterFirst = (await billDiffs(w, date)).length;
    expect(afterFirst).toBe(first.bill.written);
    expect(afterFirst).toBeGreaterThan(0);
    expect(afterFirst).toBeLessThan(n);

    // The next runs (no billDate: the cron's path) pick the check up where it stopped.
    let runs = 1;
    let last = first;
    while (last.bill.status === "partial" && runs < 10) {
      w.clock.advance(60_000);
      last = await runJob(w, { limits: QUIET });
      runs++;
      expect(last.budget.spent.queries).toBeLessThanOrEqual(45 - 2);
    }
    expect(runs).toBeGreaterThan(1);
    expect(last.bill).toMatchObject({ status: "checked", billDate: date, foreign: 600, diffs: { missing_local: n } });
    const all = await billDiffs(w, date);
    expect(all).toHaveLength(n);
    expect(new Set(all.map((x) => x.outTradeNo)).size).toBe(n);
    expect(await billFlags(w, `%${date}%`)).toBe(n);

    // Done: the next cron-path run moves on to the due date; a forced re-check (paid plan: one run) replaces it exactly.
    w.clock.advance(60_000);
    expect((await runJob(w, { limits: QUIET })).bill).toMatchObject({ billDate: "2026-11-29" });
    const again = await runJob({ ...w, env: { ...w.env, WORKERS_PLAN: "paid" } as Env }, { limits: QUIET, billDate: date });
    expect(again.bill).toMatchObject({ status: "checked", diffs: { missing_local: n } });
    expect(sorted(await billDiffs(w, date))).toEqual(sorted(all));
    expect(await billFlags(w, `%${date}%`)).toBe(n);
  });
});

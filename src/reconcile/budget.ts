/**
 * @module reconcile/budget — what one reconciliation run may spend (SPEC §8): wall time, outbound
 * requests and D1 queries, against the plan's per-invocation limits (`WORKERS_PLAN`).
 *
 * Counted, not estimated: the run's `fetch` and D1 binding go through `budget.fetch()` and
 * `budget.d1()`, which count every subrequest and every D1 statement as it is sent (a batch counts
 * each of its statements: Cloudflare applies the per-query limits to each statement of a batch,
 * so we count it the conservative way). Declared costs are only used to *decide*: before each
 * item a task asks `canSpend(requests, queries)` with that item's worst case and stops when the
 * answer is no. The counters are the guard: a statement or request past the limit is refused
 * (`BudgetExceeded`) instead of sent, so a wrong declaration fails one item, never the platform.
 *
 * A reserve (the run's closing writes: report and lease release) is kept back from the tasks:
 * until `close()`, the counters stop at limit − reserve; after it, at the limit itself.
 *
 * Plugging in a task (as shipping/cron.ts does): give each item a worst-case `ItemCost`, call
 * `forEachDue(ctx, task, items, stats, cost, …)` (reconcile/context.ts), or, by hand,
 * `if (!ctx.budget.canSpend(r, q)) return ctx.budget.leave(task, remaining)` before each item;
 * make its calls through `ctx.deps.fetch` and `ctx.db`, which are the metered ones.
 */
import type { Clock } from "../lib/clock";

export const WORKERS_PLANS = ["free", "paid"] as const;
export type WorkersPlan = (typeof WORKERS_PLANS)[number];
export type StopReason = "time" | "subrequests" | "queries";

/**
 * Cloudflare allows 50 subrequests and 50 D1 queries per invocation on the free plan, 1000 on paid;
 * the run stops at 45 / 900, leaving room for what the runtime itself or a hook might add.
 */
export const PLAN_LIMITS: Record<WorkersPlan, { subrequests: number; queries: number }> = {
  free: { subrequests: 45, queries: 45 },
  paid: { subrequests: 900, queries: 900 },
};

/** What one item of a task may cost at most (all retries and side calls included). */
export interface ItemCost {
  requests: number;
  queries: number;
}

export interface Spent {
  subrequests: number;
  queries: number;
}

export interface RunBudgetOptions {
  limits: Spent;
  clock: Clock;
  startedAt: number;
  /** Stop taking new work after this much wall time. */
  wallMs: number;
  /** The longest one outbound request can take (the cron's timeout): an item may take requests × this. */
  requestTimeoutMs: number;
  /** Kept back for the run's closing writes. */
  reserve: Spent;
}

export class BudgetExceeded extends Error {
  readonly code = "budget_exceeded";
  constructor(kind: "subrequests" | "queries", limit: number) {
    super(`this run may send at most ${limit} ${kind === "queries" ? "D1 queries" : "outbound requests"} (WORKERS_PLAN); the next run goes on`);
    this.name = "BudgetExceeded";
  }
}

export class RunBudget {
  readonly spent: Spent = { subrequests: 0, queries: 0 };
  /** The first reason new work was refused (null: the run did everything it found). */
  stoppedEarly: StopReason | null = null;
  /** Per task: items it had in hand and left, or "not_started". */
  readonly left: Record<string, number | "not_started"> = {};
  private closing = false;

  constructor(readonly opts: RunBudgetOptions) {}

  get deadline(): number {
    return this.opts.startedAt + this.opts.wallMs;
  }

  /** May the next item, costing at most this much, start now? A no is remembered as `stoppedEarly`. */
  canSpend(requests: number, queries: number): boolean {
    const reason = this.refusal(requests, queries);
    if (reason !== null) this.stoppedEarly ??= reason;
    return reason === null;
  }

  /** Records work a task had to leave for the next run. */
  leave(task: string, items: number | "not_started"): void {
    const before = this.left[task];
    this.left[task] = typeof before === "number" && typeof items === "number" ? before + items : items;
  }

  /** From here on the reserve may be used (the report and the lease release). */
  close(): void {
    this.closing = true;
  }

  /** `inner`, counting each call as one subrequest. */
  fetch(inner: typeof fetch): typeof fetch {
    return (input, init) => counted(() => this.take("subrequests", 1), () => inner(input, init));
  }

  /** `inner`, counting each statement run (a batch counts every statement in it). */
  d1(inner: D1Database): D1Database {
    return meteredD1(inner, {
      take: (n) => this.take("queries", n),
      record: (n) => void (this.spent.queries += n),
    });
  }

  private refusal(requests: number, queries: number): StopReason | null {
    const now = this.opts.clock.now();
    if (now >= this.deadline || now + requests * this.opts.requestTimeoutMs > this.deadline) return "time";
    if (this.spent.subrequests + requests > this.cap("subrequests")) return "subrequests";
    if (this.spent.queries + queries > this.cap("queries")) return "queries";
    return null;
  }

  private cap(kind: keyof Spent): number {
    return this.opts.limits[kind] - (this.closing ? 0 : this.opts.reserve[kind]);
  }

  private take(kind: keyof Spent, n: number): void {
    if (this.spent[kind] + n > this.cap(kind)) {
      this.stoppedEarly ??= kind;
      throw new BudgetExceeded(kind, this.cap(kind));
    }
    this.spent[kind] += n;
  }
}

/** Counts, then runs; a refusal comes back as a rejected promise, like any failed call. */
function counted<T>(count: () => void, run: () => Promise<T>): Promise<T> {
  try {
    count();
  } catch (err) {
    return Promise.reject(err);
  }
  return run();
}

/** A prepared statement that reports each execution (bind returns another metered one). */
class MeteredStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    private readonly count: (n: number) => void,
  ) {}
  bind(...values: unknown[]): MeteredStatement {
    return new MeteredStatement(this.inner.bind(...values), this.count);
  }
  first(col?: string) {
    return counted(() => this.count(1), () => (col === undefined ? this.inner.first() : this.inner.first(col)));
  }
  run() {
    return counted(() => this.count(1), () => this.inner.run());
  }
  all() {
    return counted(() => this.count(1), () => this.inner.all());
  }
  raw(opts?: { columnNames?: boolean }) {
    return counted(() => this.count(1), () => this.inner.raw(opts as { columnNames: true }));
  }
}

const unwrap = (s: D1PreparedStatement): D1PreparedStatement => (s instanceof MeteredStatement ? s.inner : s) as D1PreparedStatement;

interface Meter {
  /** Counts n statements about to run; throws past the cap. */
  take(n: number): void;
  /** Counts n statements that already ran. */
  record(n: number): void;
}

function meteredD1(inner: D1Database | D1DatabaseSession, meter: Meter): D1Database {
  const count = (n: number) => meter.take(n);
  const metered = {
    prepare: (query: string) => new MeteredStatement(inner.prepare(query), count) as unknown as D1PreparedStatement,
    batch: (statements: D1PreparedStatement[]) => counted(() => count(statements.length), () => inner.batch(statements.map(unwrap))),
    async exec(query: string) {
      // exec runs several statements: one is guarded before, the rest are counted as D1 reports them.
      count(1);
      const r = await (inner as D1Database).exec(query);
      if (r.count > 1) meter.record(r.count - 1);
      return r;
    },
    withSession: (c?: D1SessionBookmark | D1SessionConstraint) => meteredD1((inner as D1Database).withSession(c), meter),
    dump: () => (inner as D1Database).dump(),
    getBookmark: () => (inner as D1DatabaseSession).getBookmark(),
  };
  return metered as unknown as D1Database;
}

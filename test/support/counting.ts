/**
 * @module test/support/counting — counts what a run really sends, independently of the job's own
 * budget: every call of a `fetch`, and every D1 statement executed (each statement of a batch).
 */
import { createScheduledController } from "cloudflare:test";
import { expect } from "vitest";
import type { AppDeps } from "../../src/context";
import { runScheduled } from "../../src/scheduled";
import type { World } from "./world";

export interface Counted {
  fetch: typeof fetch;
  db: D1Database;
  requests(): number;
  queries(): number;
}

export function counting(innerFetch: typeof fetch, innerDb: D1Database): Counted {
  let requests = 0;
  let queries = 0;
  const real = new WeakMap<object, D1PreparedStatement>();
  const statement = (s: D1PreparedStatement): D1PreparedStatement => {
    const p = new Proxy(s, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => statement(target.bind(...values));
        if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
          return (...args: unknown[]) => {
            queries++;
            return (target[prop] as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    real.set(p, s);
    return p;
  };
  const db = new Proxy(innerDb, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => statement(target.prepare(sql));
      if (prop === "batch") {
        return (stmts: D1PreparedStatement[]) => {
          queries += stmts.length;
          return target.batch(stmts.map((s) => real.get(s) ?? s));
        };
      }
      if (prop === "exec") throw new Error("counting D1: exec is not counted here");
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return {
    fetch: (input, init) => {
      requests++;
      return innerFetch(input, init);
    },
    db,
    requests: () => requests,
    queries: () => queries,
  };
}

/** Runs the cron handler with counters of our own around its fetch and D1. */
export async function cronCounted(w: World, fetch: typeof globalThis.fetch, over: { env?: Record<string, string>; deps?: Partial<AppDeps> } = {}) {
  const c = counting(fetch, w.env.DB);
  const env = { ...w.env, ...over.env, DB: c.db } as Env;
  const controller = createScheduledController({ scheduledTime: w.clock.now(), cron: "* * * * *" });
  const report = await runScheduled(env, { ...w.deps, ...over.deps, fetch: c.fetch }, { scheduledTime: controller.scheduledTime, cron: controller.cron });
  expect(report).not.toBeNull();
  return { report: report!, requests: c.requests(), queries: c.queries() };
}


/**
 * @module test/support/harness — builds the Worker app with injected clock, randomness,
 * outbound fetch and a log capture, and calls it inside workerd against the real D1.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as baseEnv } from "cloudflare:workers";
import { createApp } from "../../src/app";
import type { AppDeps, FulfilmentHook } from "../../src/context";
import { FakeClock } from "../../src/lib/clock";
import { createLogger } from "../../src/lib/log";
import { cryptoRandom, type Random } from "../../src/lib/random";

/** 2026-11-29T12:00:00Z: inside the validity of the test certificates. */
export const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);

export interface HarnessOptions {
  /** Outbound fetch (the simulator's, usually). Default: every call fails like a network error. */
  fetch?: typeof fetch;
  clock?: FakeClock;
  random?: Random;
  fulfil?: FulfilmentHook;
  /** Overrides of the Worker's bindings (vars and secrets). */
  env?: Partial<Record<keyof Env, unknown>>;
}

export interface Harness {
  clock: FakeClock;
  env: Env;
  deps: AppDeps;
  /** Every log line the app wrote, as JSON text. */
  logs: string[];
  app: ReturnType<typeof createApp>;
  /** Calls the app and waits for its waitUntil work. */
  fetch(req: Request): Promise<Response>;
  request(method: string, path: string, opts?: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; token?: string }): Promise<Response>;
}

export function createHarness(opts: HarnessOptions = {}): Harness {
  const clock = opts.clock ?? new FakeClock(T0);
  const logs: string[] = [];
  const deps: AppDeps = {
    clock,
    random: opts.random ?? cryptoRandom,
    fetch: opts.fetch ?? (async () => { throw new TypeError("network unreachable (no fetch injected)"); }),
    logger: createLogger((_level, line) => logs.push(line), {}, "debug"),
    sleep: async () => {},
    fulfil: opts.fulfil ?? (async () => {}),
    // Short timeouts so "WeChat hangs" cases finish quickly; the production defaults are 4–5 s.
    upstream: { loginTimeoutMs: 500, wechatPay: { timeoutMs: 1000 }, wechatServerTimeoutMs: 500 },
  };
  const env = { ...baseEnv, ...(opts.env ?? {}) } as Env;
  const app = createApp(deps);
  const h: Harness = {
    clock,
    env,
    deps,
    logs,
    app,
    async fetch(req) {
      const ctx = createExecutionContext();
      const res = await app.fetch(req, env, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    },
    request(method, path, o = {}) {
      const headers = new Headers(o.headers);
      let body = o.body;
      if (o.json !== undefined) {
        body = JSON.stringify(o.json);
        if (!headers.has("content-type")) headers.set("content-type", "application/json");
      }
      if (o.token) headers.set("authorization", `Bearer ${o.token}`);
      return h.fetch(new Request(`https://worker.test${path}`, { method, headers, body: body ?? null }));
    },
  };
  return h;
}

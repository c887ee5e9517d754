/**
 * @module index — the Worker entry: builds the app once per isolate with the real clock,
 * randomness, fetch and logger (at LOG_LEVEL, so it is built on the first request, when the
 * environment is known), and wires the cron trigger to the reconciliation job.
 */
import "reflect-metadata";
import { createApp } from "./app";
import type { AppDeps } from "./context";
import { fulfilOrder } from "./fulfilment/hook";
import { systemClock } from "./lib/clock";
import { createLogger, logLevelOf } from "./lib/log";
import { cryptoRandom } from "./lib/random";
import { runScheduled } from "./scheduled";

export const defaultDeps: AppDeps = {
  clock: systemClock,
  random: cryptoRandom,
  fetch: (input, init) => fetch(input, init),
  logger: createLogger(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  fulfil: fulfilOrder,
};

/** The isolate's dependencies and app; the environment is the same for every request of an isolate. */
let built: { deps: AppDeps; app: ReturnType<typeof createApp> } | null = null;
function forEnv(env: Env) {
  if (!built) {
    const deps = { ...defaultDeps, logger: createLogger(undefined, {}, logLevelOf((env as { LOG_LEVEL?: unknown }).LOG_LEVEL)) };
    built = { deps, app: createApp(deps) };
  }
  return built;
}

export default {
  fetch(request, env, ctx) {
    return forEnv(env).app.fetch(request, env, ctx);
  },
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(env, forEnv(env).deps, { scheduledTime: controller.scheduledTime, cron: controller.cron }));
  },
} satisfies ExportedHandler<Env>;

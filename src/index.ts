/**
 * @module index — the Worker entry: builds the app once per isolate with the real clock,
 * randomness, fetch and logger, and wires the cron trigger to the reconciliation job.
 */
import "reflect-metadata";
import { createApp } from "./app";
import type { AppDeps } from "./context";
import { fulfilOrder } from "./fulfilment/hook";
import { systemClock } from "./lib/clock";
import { createLogger } from "./lib/log";
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

const app = createApp(defaultDeps);

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(env, defaultDeps, { scheduledTime: controller.scheduledTime, cron: controller.cron }));
  },
} satisfies ExportedHandler<Env>;

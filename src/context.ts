/**
 * @module context — what every request handler can reach: injected dependencies (clock,
 * randomness, outbound fetch, logger, fulfilment hook) and per-request values (config, db, user).
 */
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { Config } from "./config";
import type { Clock } from "./lib/clock";
import type { Logger } from "./lib/log";
import type { Random } from "./lib/random";
import type { TransportOptions } from "./wechat/pay/client";
import type * as schema from "./db/schema";
import type { ShipmentRequest } from "./shipping/request";

export type Db = DrizzleD1Database<typeof schema>;

/**
 * Runs the merchant's fulfilment for a paid order; see src/fulfilment/hook.ts. `fetch` is the
 * Worker's outbound fetch (in the cron job, the metered one that counts against its limits).
 */
export type FulfilmentHook = (
  order: PaidOrderForFulfilment,
  ctx: { env: Env; logger: Logger; fetch: typeof fetch },
) => Promise<void | FulfilmentResult>;

export interface FulfilmentResult {
  /**
   * Goods the hook delivered itself (e.g. `{ logisticsType: "virtual" }`): recorded as the
   * order's shipment and uploaded to WeChat once (SPEC §9), unless the order already has one.
   */
  shipping?: ShipmentRequest;
}

export interface PaidOrderForFulfilment {
  id: string;
  outTradeNo: string;
  userId: string;
  amount: number;
  transactionId: string | null;
  items: { productId: string; name: string; quantity: number; unitPrice: number }[];
}

export interface AppDeps {
  clock: Clock;
  random: Random;
  /** Every outbound HTTP call (WeChat, WeChat Pay) goes through this. */
  fetch: typeof fetch;
  logger: Logger;
  /** Back-off waits; tests pass a no-op. */
  sleep: (ms: number) => Promise<void>;
  fulfil: FulfilmentHook;
  /**
   * Outbound call tuning; defaults: WeChat Pay 5 s per attempt and 2 retries, login 4 s, server APIs
   * 5 s; the reconciliation job's calls (WeChat Pay and server APIs) 3 s, never retried within a run (`cronTimeoutMs`).
   */
  upstream?: { wechatPay?: TransportOptions; loginTimeoutMs?: number; wechatServerTimeoutMs?: number; cronTimeoutMs?: number };
}

export interface SessionUser {
  id: string;
  openid: string;
  /** The session token's issue time (unix seconds): checked against the user's sessionsValidAfter. */
  iat: number;
}

export interface Vars {
  requestId: string;
  config: Config;
  deps: AppDeps;
  db: Db;
  log: Logger;
  user: SessionUser;
  /** The CSP nonce of an HTML response (routes/security.ts). */
  cspNonce: string;
  /** The console session of this request (null: none), once looked at (console/session.ts). */
  consoleSession: import("./console/session").ConsoleSession | null;
}

export type AppEnv = { Bindings: Env; Variables: Vars };

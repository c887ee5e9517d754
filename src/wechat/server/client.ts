/**
 * @module wechat/server/client — the client every api.weixin.qq.com server API goes through
 * (shipping, phone number, checksession, message push follow-ups): the access token in the query, errcode
 * classification (errors.ts), and one retry after a rejected token (WECHATPAY.md M.4/M.5):
 * compare-and-drop the token that failed, fetch again in normal mode, retry once — a second
 * rejection is thrown, never looped on (a wrong-account token would loop forever).
 */
import { atRestSealer } from "../../auth/keys";
import type { Config } from "../../config";
import type { AppDeps } from "../../context";
import { isTokenError, WxUnknownOutcomeError } from "./errors";
import { dropAccessToken, getAccessToken, newTokenCache, type TokenCache, type TokenSource } from "./token";
import { d1TokenStore, tokenAad } from "./token-store";
import { sendWx } from "./transport";

/** Per attempt; WeChat's server APIs answer in well under a second when healthy. */
export const DEFAULT_TIMEOUT_MS = 5000;
export const STABLE_TOKEN_API = "cgi-bin/stable_token";

export interface ServerApi {
  /** POST `body` to `api` (e.g. `wxa/sec/order/get_order`) with the access token; the answer's object on errcode 0. */
  call(api: string, body: unknown): Promise<Record<string, unknown>>;
  /**
   * GET `api` (e.g. `wxa/checksession`) with `query` beside the access token; the answer's object
   * on errcode 0. `expectedErrcodes`: answers that are a verdict, not a fault (logged at debug).
   */
  get(api: string, query: Record<string, string>, expectedErrcodes?: ReadonlySet<number>): Promise<Record<string, unknown>>;
}

/**
 * Token caches per isolate: by the deps object (built once per isolate in src/index.ts; one per
 * harness in tests, so tests never share a cached token) and by API base + AppID.
 */
const caches = new WeakMap<object, Map<string, TokenCache>>();

function cacheFor(deps: AppDeps, key: string): TokenCache {
  let byKey = caches.get(deps);
  if (!byKey) caches.set(deps, (byKey = new Map()));
  let c = byKey.get(key);
  if (!c) byKey.set(key, (c = newTokenCache()));
  return c;
}

/**
 * What `calls` calls through one client may send at worst (the cron declares its shipping items'
 * costs from it): each call; one access-token fetch (read the stored copy, stable_token, store it);
 * and one rejected token's retry (drop it, read the store, stable_token, store it, send again).
 * A second rejection within the same few calls (the new token invalidated seconds after it was
 * issued) is not declared: the run's counters would refuse that call rather than pass the plan.
 */
export function serverApiCost(calls: number): { requests: number; queries: number } {
  return { requests: calls + 1 + 2, queries: 2 + 3 };
}

export function createServerApi(p: {
  config: Config;
  deps: AppDeps;
  d1: D1Database;
  /** Per attempt; the cron passes its own (the run's budget reserves that long per request). */
  timeoutMs?: number;
}): ServerApi {
  const { config, deps } = p;
  const timeoutMs = p.timeoutMs ?? deps.upstream?.wechatServerTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const cache = cacheFor(deps, `${config.wxApiBase}|${config.appid}`);
  const source: TokenSource = {
    clock: deps.clock,
    store: d1TokenStore(p.d1, config.appid, () => deps.clock.now(), atRestSealer(config, deps.random, tokenAad(config.appid))),
    async fetchToken() {
      const b = await sendWx(deps, config.wxApiBase, {
        api: STABLE_TOKEN_API,
        method: "POST",
        // Normal mode, always (M.1): force_refresh would invalidate the token everywhere.
        body: { grant_type: "client_credential", appid: config.appid, secret: config.appSecret, force_refresh: false },
        timeoutMs,
      });
      if (typeof b.access_token !== "string" || b.access_token === "" || typeof b.expires_in !== "number") {
        throw new WxUnknownOutcomeError(STABLE_TOKEN_API, "not_json");
      }
      deps.logger.info("access token fetched", { expiresIn: b.expires_in });
      return { token: b.access_token, expiresIn: b.expires_in };
    },
    warn: (msg, fields) => deps.logger.warn(msg, fields),
  };
  const post = (api: string, body: unknown) => (token: string) =>
    sendWx(deps, config.wxApiBase, { api, method: "POST", query: { access_token: token }, body, timeoutMs });
  const get = (api: string, query: Record<string, string>, expectedErrcodes?: ReadonlySet<number>) => (token: string) =>
    sendWx(deps, config.wxApiBase, { api, method: "GET", query: { ...query, access_token: token }, timeoutMs, ...(expectedErrcodes ? { expectedErrcodes } : {}) });

  /** One request with the current token; on a rejected token, compare-and-drop it and retry once. */
  async function withToken(api: string, send: (token: string) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    const token = await getAccessToken(cache, source);
    try {
      return await send(token);
    } catch (err) {
      if (!isTokenError(err)) throw err;
      deps.logger.info("access token rejected; fetching it again and retrying once", { api, errcode: err.errcode });
      await dropAccessToken(cache, source, token);
      return await send(await getAccessToken(cache, source));
    }
  }

  return {
    call: (api, body) => withToken(api, post(api, body)),
    get: (api, query, expectedErrcodes) => withToken(api, get(api, query, expectedErrcodes)),
  };
}

/**
 * @module wechat/server/token — the access token for api.weixin.qq.com (WECHATPAY.md M.1, M.5).
 *
 * `POST cgi-bin/stable_token` in normal mode only: `force_refresh` is never sent, because it is
 * limited to 20 a day and invalidates the token for every other holder (a leaked token is a
 * manual operation). In normal mode parallel callers simply get the same token, so a race costs
 * nothing; still, one isolate shares one in-flight fetch, and the token is cached twice: in the
 * isolate (no I/O) and in D1 (shared by every isolate). It is refreshed once fewer than 300 s of
 * its life remain — a normal-mode call in that window returns the next token, the old one still
 * working for those 5 minutes (M.1) — but kept at least 60 s, since `expires_in` can be as low
 * as 300. A server API that rejects the token (40001/40014/42001, M.4) makes the caller drop it
 * *only if it is still the one that failed* (compare-and-drop, as WxJava does): a caller late
 * with its failure must not throw away the token another caller just fetched.
 */
import type { Clock } from "../../lib/clock";

/** Refresh when fewer than this many ms of the token's life remain (M.1 early renewal). */
export const REFRESH_MARGIN_MS = 300_000;
/** …but cache a token at least this long (M.5 (3)). */
export const MIN_CACHE_MS = 60_000;

export interface CachedToken {
  token: string;
  /** Clock ms when WeChat stops accepting it. */
  expiresAt: number;
  /** Clock ms from which a new one is fetched. */
  refreshAt: number;
}

/** Where tokens are shared between isolates (D1 in the Worker: token-store.ts). */
export interface TokenStore {
  load(): Promise<CachedToken | null>;
  save(t: CachedToken): Promise<void>;
  /** Deletes the stored token only if it is `token`. */
  drop(token: string): Promise<void>;
}

export interface TokenSource {
  clock: Clock;
  store: TokenStore;
  /** One normal-mode stable_token call. */
  fetchToken(): Promise<{ token: string; expiresIn: number }>;
  /** Non-fatal problems (a D1 read or write that failed). */
  warn(msg: string, fields: Record<string, unknown>): void;
}

/** The isolate's cache for one AppID. */
export interface TokenCache {
  current: CachedToken | null;
  inflight: Promise<string> | null;
}

export const newTokenCache = (): TokenCache => ({ current: null, inflight: null });

export function cachedTokenOf(token: string, expiresInS: number, now: number): CachedToken {
  const lifeMs = Math.max(0, expiresInS) * 1000;
  return { token, expiresAt: now + lifeMs, refreshAt: now + Math.max(MIN_CACHE_MS, lifeMs - REFRESH_MARGIN_MS) };
}

const fresh = (t: CachedToken | null, now: number): t is CachedToken => t !== null && now < t.refreshAt;

/** A usable token: the isolate's, else D1's, else a new one; concurrent callers share one fetch. */
export function getAccessToken(cache: TokenCache, src: TokenSource): Promise<string> {
  if (fresh(cache.current, src.clock.now())) return Promise.resolve(cache.current.token);
  if (cache.inflight) return cache.inflight;
  const p = (async () => {
    const stored = await src.store.load().catch((err: unknown) => {
      src.warn("access token: stored copy unreadable", { reason: (err as Error).message });
      return null;
    });
    if (fresh(stored, src.clock.now())) {
      cache.current = stored;
      return stored.token;
    }
    const got = await src.fetchToken();
    const t = cachedTokenOf(got.token, got.expiresIn, src.clock.now());
    cache.current = t;
    await src.store.save(t).catch((err: unknown) => src.warn("access token: could not store it", { reason: (err as Error).message }));
    return t.token;
  })();
  cache.inflight = p;
  const clear = () => {
    if (cache.inflight === p) cache.inflight = null;
  };
  p.then(clear, clear);
  return p;
}

/** Compare-and-drop: forget `failed` in the isolate and in the store, but only if it is still the cached one. */
export async function dropAccessToken(cache: TokenCache, src: TokenSource, failed: string): Promise<void> {
  if (cache.current?.token === failed) cache.current = null;
  await src.store.drop(failed).catch((err: unknown) => src.warn("access token: could not drop the stored copy", { reason: (err as Error).message }));
}

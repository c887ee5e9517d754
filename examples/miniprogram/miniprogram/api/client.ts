/**
 * The typed API client of the example. Every path, parameter, body and answer type comes from
 * ./openapi.d.ts (generated from the server's OpenAPI document), so a route change on the
 * server that breaks the app breaks `npm run typecheck` first.
 *
 * - session token in storage (api/session.ts); one login at a time;
 * - a 401 on a logged-in call (expired or revoked token) logs in again and retries once; a login
 *   carries the previous token (SPEC §11: a 40226 login ends that user's sessions);
 * - errors are thrown as ApiError with the server's code, message and requestId.
 */
import { ApiError, httpRequest, toApiError } from "./http";
import { wxLoginCode } from "./platform";
import { clearSession, readSession, readStoredToken, saveSession, type StoredSession } from "./session";
import type { BodyOf, HeadersOf, LoginResponse, MethodOf, OrderLine, Path, PathParamsOf, QueryOf, ResponseOf } from "./types";

export { ApiError } from "./http";

type Options<P extends Path, M extends MethodOf<P>> = {
  auth: boolean;
} & (PathParamsOf<P, M> extends undefined ? { params?: undefined } : { params: PathParamsOf<P, M> }) &
  (QueryOf<P, M> extends undefined ? { query?: undefined } : { query?: QueryOf<P, M> }) &
  (HeadersOf<P, M> extends undefined ? { headers?: undefined } : { headers?: HeadersOf<P, M> }) &
  (BodyOf<P, M> extends undefined ? { body?: undefined } : { body: BodyOf<P, M> });

function buildPath(template: string, params: Record<string, unknown> | undefined, query: Record<string, unknown> | undefined): string {
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined || v === null) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(String(v));
  });
  const qs = Object.entries(query ?? {})
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  return qs ? `${path}?${qs}` : path;
}

/** One typed call: `call("get", "/v1/orders/{id}", { auth: true, params: { id } })`. */
export async function call<P extends Path, M extends MethodOf<P>>(method: M, path: P, opts: Options<P, M>): Promise<ResponseOf<P, M>> {
  const o = opts as { auth: boolean; params?: Record<string, unknown>; query?: Record<string, unknown>; headers?: Record<string, string>; body?: WechatMiniprogram.IAnyObject };
  const send = async (session: StoredSession | null) => {
    const headers: Record<string, string> = { ...o.headers };
    if (session) headers.authorization = `Bearer ${session.token}`;
    return httpRequest({
      method: method === "get" ? "GET" : "POST",
      path: buildPath(path, o.params, o.query),
      headers,
      ...(o.body !== undefined ? { body: o.body } : {}),
    });
  };
  let res = await send(o.auth ? await ensureSession() : null);
  if (res.status === 401 && o.auth) {
    // The token expired or the server no longer accepts it: log in again, retry once.
    const stale = readStoredToken();
    clearSession();
    res = await send(await login(stale));
  }
  if (res.status < 200 || res.status >= 300) throw toApiError(res);
  return res.data as ResponseOf<P, M>;
}

let loggingIn: Promise<StoredSession> | null = null;

/**
 * wx.login → POST /v1/auth/login → token in storage. Concurrent callers share one login. The
 * previous token (even expired) goes along: if WeChat's risk control blocks the user (40226),
 * the server ends that user's sessions.
 */
export function login(previous: string | null = readStoredToken()): Promise<StoredSession> {
  loggingIn ??= (async () => {
    try {
      const code = await wxLoginCode();
      const headers = previous ? { authorization: `Bearer ${previous}` } : {};
      const r: LoginResponse = await call("post", "/v1/auth/login", { auth: false, body: { code }, headers });
      return saveSession(r);
    } finally {
      loggingIn = null;
    }
  })();
  return loggingIn;
}

/** The stored session if still valid, else a fresh login. */
export async function ensureSession(): Promise<StoredSession> {
  return readSession() ?? login();
}

/** A new Idempotency-Key: one per checkout attempt, reused when that attempt is retried. */
export function newIdempotencyKey(): string {
  const rand = () => Math.floor(Math.random() * 0x100000000).toString(36);
  return `mp-${Date.now().toString(36)}-${rand()}${rand()}`;
}

/** The mini-program API, one function per operation. */
export const api = {
  products: () => call("get", "/v1/products", { auth: false }),
  createOrder: (items: OrderLine[], idempotencyKey: string) =>
    call("post", "/v1/orders", { auth: true, body: { items }, headers: { "idempotency-key": idempotencyKey } }),
  /** Fresh wx.requestPayment parameters for an unpaid order (retry after a cancel or failure). */
  payOrder: (id: string) => call("post", "/v1/orders/{id}/pay", { auth: true, params: { id } }),
  /** With sync, a PAYING order is checked with WeChat first: use it after requestPayment. */
  order: (id: string, sync = false) => call("get", "/v1/orders/{id}", { auth: true, params: { id }, query: sync ? { sync: "true" } : {} }),
  orders: (cursor?: string) => call("get", "/v1/orders", { auth: true, query: cursor ? { cursor } : {} }),
  cancelOrder: (id: string) => call("post", "/v1/orders/{id}/cancel", { auth: true, params: { id } }),
};

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

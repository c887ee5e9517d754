/**
 * @module errors — every error code the API can answer, and the one place they become HTTP.
 *
 * Routes and services throw `AppError`; `app.onError` calls `toErrorResponse`. The notify route
 * answers WeChat in its own shape (`{"code":"FAIL","message":…}`), built by `notifyFailure`
 * here too, so both wire formats live in one file.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Error code → HTTP status. The codes are part of the public contract (SPEC §3). */
export const ERROR_STATUS = {
  invalid_request: 400,
  /** Open data (encryptedData) that the user's current session_key does not open, or another app's. */
  undecryptable: 400,
  unauthorized: 401,
  invalid_code: 401,
  /** The stored session_key is no longer the user's current one: wx.login again, then fetch the data again. */
  session_stale: 401,
  user_blocked: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  idempotency_conflict: 409,
  order_not_payable: 409,
  refund_not_allowed: 409,
  not_shippable: 409,
  conflict: 409,
  reconcile_running: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  too_many_unpaid_orders: 429,
  misconfigured: 500,
  internal_error: 500,
  upstream_unavailable: 502,
  payment_provider_error: 502,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  /** Seconds, sent as `Retry-After` (429, 503). */
  readonly retryAfter?: number;
  /** Extra, non-secret fields for the log line (never sent to the client). */
  readonly logFields?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryAfter?: number; cause?: unknown; logFields?: Record<string, unknown>; status?: ContentfulStatusCode } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "AppError";
    this.code = code;
    // `status` only where SPEC gives one code two statuses (STATUS_EXCEPTIONS below).
    this.status = opts.status ?? ERROR_STATUS[code];
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
    if (opts.logFields !== undefined) this.logFields = opts.logFields;
  }
}

/**
 * Codes SPEC answers with another status on some routes: `invalid_code` is 401 at login (the
 * session could not be established) but 400 for a phone-number code (the session is fine; the
 * button's code is not) — SPEC §3 and §9.
 */
export const STATUS_EXCEPTIONS = { invalidPhoneCode: { code: "invalid_code", status: 400 } } as const;

export const invalidPhoneCode = (message: string) =>
  new AppError(STATUS_EXCEPTIONS.invalidPhoneCode.code, message, { status: STATUS_EXCEPTIONS.invalidPhoneCode.status });

export const invalidRequest = (message: string) => new AppError("invalid_request", message);
export const notFound = (what = "resource") => new AppError("not_found", `${what} not found`);

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string };
}

/** The JSON envelope and headers for an AppError. */
export function toErrorResponse(err: AppError, requestId: string): Response {
  const body: ErrorBody = { error: { code: err.code, message: err.message, requestId } };
  const headers = new Headers({
    "content-type": "application/json; charset=utf-8",
    "x-request-id": requestId,
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
  });
  if (err.retryAfter !== undefined) headers.set("retry-after", String(Math.max(1, Math.ceil(err.retryAfter))));
  return new Response(JSON.stringify(body), { status: err.status, headers });
}

/**
 * The answer WeChat expects when a notification is not accepted: any 4xx/5xx makes it retry
 * (WECHATPAY.md G.4). 401: signature, timestamp or serial; 400: malformed; 500: our fault.
 */
export class NotifyFailure extends Error {
  constructor(
    readonly status: 400 | 401 | 500 | 503,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "NotifyFailure";
  }
}

export function notifyFailure(err: NotifyFailure, requestId: string): Response {
  return new Response(JSON.stringify({ code: "FAIL", message: err.message }), {
    status: err.status,
    headers: { "content-type": "application/json; charset=utf-8", "x-request-id": requestId },
  });
}

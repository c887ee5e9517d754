/**
 * @module wechat/server/transport — the only code that calls `fetch` for api.weixin.qq.com
 * (WECHATPAY.md A.2, M–P). One attempt per call: the callers decide about retries, because
 * only they know whether repeating is safe (a login code is single-use, an upload spends the
 * one re-ship chance). The URL may carry the AppSecret or the access token, so it is never
 * logged, thrown or returned; WeChat's `rid` (the id its support asks for) is logged instead.
 */
import type { Logger } from "../../lib/log";
import { WxErrcodeError, WxUnknownOutcomeError } from "./errors";

export interface WxRequest {
  /** The API path without a leading slash, e.g. `cgi-bin/stable_token` (the name logged). */
  api: string;
  method: "GET" | "POST";
  /** Query parameters (secrets allowed: the URL is never logged). */
  query?: Record<string, string>;
  /** Sent as JSON (POST). */
  body?: unknown;
  timeoutMs: number;
  /**
   * errcodes that are an ordinary answer for this API (a bad login code: the client's mistake,
   * answered 4xx by the route), logged at debug rather than warn.
   */
  expectedErrcodes?: ReadonlySet<number>;
}

export interface WxTransportDeps {
  fetch: typeof fetch;
  logger: Logger;
}

/** `rid: 6492…` at the end of errmsg (M.4): WeChat's own request id. */
export function ridOf(errmsg: string): string | null {
  return /\brid:\s*([0-9a-zA-Z-]+)/.exec(errmsg)?.[1] ?? null;
}

/**
 * What one answer means. Pure: a JSON object with `errcode` 0 or none is success; a non-zero
 * errcode is a `WxErrcodeError`; 5xx or a body that is not a JSON object is an unknown outcome.
 */
export function classifyWxAnswer(api: string, status: number, text: string): Record<string, unknown> {
  if (status >= 500) throw new WxUnknownOutcomeError(api, "http_status", status);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new WxUnknownOutcomeError(api, "not_json");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new WxUnknownOutcomeError(api, "not_json");
  const b = body as Record<string, unknown>;
  const errcode = b.errcode === undefined ? 0 : Number(b.errcode);
  if (errcode !== 0 || Number.isNaN(errcode)) {
    const errmsg = typeof b.errmsg === "string" ? b.errmsg : "";
    throw new WxErrcodeError(api, Number.isNaN(errcode) ? -2 : errcode, errmsg.slice(0, 300), ridOf(errmsg));
  }
  if (status < 200 || status >= 300) throw new WxUnknownOutcomeError(api, "http_status", status);
  return b;
}

export async function sendWx(deps: WxTransportDeps, base: string, req: WxRequest): Promise<Record<string, unknown>> {
  const qs = req.query ? `?${new URLSearchParams(req.query).toString()}` : "";
  let status: number;
  let text: string;
  try {
    const res = await deps.fetch(`${base}/${req.api}${qs}`, {
      method: req.method,
      headers: req.body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch (cause) {
    const timedOut = cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError");
    deps.logger.warn("wechat server api unreachable", { api: req.api, reason: timedOut ? "timeout" : "network" });
    throw new WxUnknownOutcomeError(req.api, timedOut ? "timeout" : "network");
  }
  try {
    return classifyWxAnswer(req.api, status, text);
  } catch (err) {
    if (err instanceof WxErrcodeError) {
      const level = req.expectedErrcodes?.has(err.errcode) ? "debug" : "warn";
      deps.logger[level]("wechat server api error", { api: req.api, errcode: err.errcode, rid: err.rid });
    } else if (err instanceof WxUnknownOutcomeError) {
      deps.logger.warn("wechat server api unusable answer", { api: req.api, reason: err.reason, status: err.status });
    }
    throw err;
  }
}

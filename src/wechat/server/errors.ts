/**
 * @module wechat/server/errors — what a call to an api.weixin.qq.com server API can end in
 * (WECHATPAY.md M.3, M.4): WeChat answered an `errcode`, or the outcome is unknown (timeout,
 * network, 5xx, an answer that is not JSON). Messages never carry the URL, the token or a body.
 */

/** errcodes meaning "this access token is invalid, not the latest, or expired" (M.4). */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

export abstract class WxServerError extends Error {
  /** The server API, e.g. `wxa/sec/order/upload_shipping_info` (never the URL). */
  abstract readonly api: string;
  /** A stable code for reports: `errcode_<n>` or `unknown_outcome`. */
  abstract readonly code: string;
}

/** WeChat answered with a non-zero errcode. `rid` is WeChat's request id, for their support. */
export class WxErrcodeError extends WxServerError {
  readonly code: string;
  constructor(
    readonly api: string,
    readonly errcode: number,
    readonly errmsg: string,
    readonly rid: string | null,
  ) {
    super(`${api} answered errcode ${errcode}${rid ? ` (rid ${rid})` : ""}`);
    this.name = "WxErrcodeError";
    this.code = `errcode_${errcode}`;
  }
}

/**
 * No usable answer: WeChat may or may not have acted on the request (a timeout after it
 * applied an upload, a 5xx, a gateway's HTML page). Callers that change state at WeChat must
 * find out (e.g. `get_order`) before repeating the change.
 */
export class WxUnknownOutcomeError extends WxServerError {
  readonly code = "unknown_outcome";
  constructor(
    readonly api: string,
    readonly reason: "timeout" | "network" | "http_status" | "not_json",
    readonly status: number | null = null,
  ) {
    super(`${api}: ${reason === "http_status" ? `HTTP ${status}` : reason === "not_json" ? "answer was not JSON" : reason}`);
    this.name = "WxUnknownOutcomeError";
  }
}

export const isTokenError = (err: unknown): err is WxErrcodeError =>
  err instanceof WxErrcodeError && TOKEN_ERRCODES.has(err.errcode);

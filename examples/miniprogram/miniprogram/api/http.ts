/** wx.request as a promise, against BASE_URL (config.ts). */
import { BASE_URL } from "../config";
import type { ApiErrorBody } from "./types";

/** A failed call: `status` 0 and code `network_error` when no answer arrived at all. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;

  constructor(status: number, code: string, message: string, requestId?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

export interface HttpRequest {
  method: "GET" | "POST";
  /** Path and query, e.g. `/v1/orders/ord_1?sync=true`. */
  path: string;
  body?: WechatMiniprogram.IAnyObject;
  headers?: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  data: unknown;
}

const TIMEOUT_MS = 15_000;

export function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const option: WechatMiniprogram.RequestOption = {
      url: BASE_URL.replace(/\/+$/, "") + req.path,
      method: req.method,
      header: { "content-type": "application/json", ...req.headers },
      dataType: "json",
      timeout: TIMEOUT_MS,
      success: (res) => resolve({ status: res.statusCode, data: res.data }),
      fail: (err) => reject(new ApiError(0, "network_error", err.errMsg)),
    };
    if (req.body !== undefined) option.data = req.body;
    wx.request(option);
  });
}

/** The server's error envelope `{error:{code,message,requestId}}` as an ApiError. */
export function toApiError(res: HttpResponse): ApiError {
  const body = res.data as Partial<ApiErrorBody> | null;
  const e = body && typeof body === "object" ? body.error : undefined;
  if (e && typeof e.code === "string") return new ApiError(res.status, e.code, e.message ?? e.code, e.requestId);
  return new ApiError(res.status, "http_error", `HTTP ${res.status}`);
}

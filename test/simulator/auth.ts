/**
 * @module test/simulator/auth — what WeChat Pay does with every APIv3 request and answer:
 * verifies the merchant's `Authorization` (WECHATPAY.md B.1–B.3) and signs every 2xx answer over
 * `TIMESTAMP\nNONCE\nBODY\n` (C.1, C.2). Non-2xx answers are `{code, message, detail?}`, unsigned (C.2).
 */
import type { Context } from "hono";
import { rsaSign, rsaVerify } from "./crypto";
import type { SimContext } from "./context";

export type SimEnv = { Bindings: { signal?: AbortSignal } };
export type SimC = Context<SimEnv>;

const SCHEME = "WECHATPAY2-SHA256-RSA2048";
/** Allowed request clock skew (B.1: 5 minutes). */
const MAX_SKEW_S = 300;

export interface AuthFailure {
  issue: string;
}

/** Verifies the Authorization header of `req` whose raw body is `body`; null when valid. */
export async function verifyMerchantRequest(sim: SimContext, req: Request, body: string): Promise<AuthFailure | null> {
  const header = req.headers.get("authorization");
  if (!header) return { issue: "missing Authorization header" };
  if (!header.startsWith(`${SCHEME} `)) return { issue: `scheme must be ${SCHEME}` };
  const params: Record<string, string> = {};
  for (const part of header.slice(SCHEME.length + 1).split(",")) {
    const m = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(part);
    if (!m) return { issue: "malformed Authorization parameters" };
    params[m[1]!] = m[2]!;
  }
  const { mchid, nonce_str, timestamp, serial_no, signature } = params;
  if (!mchid || !nonce_str || !timestamp || !serial_no || !signature) {
    return { issue: "Authorization needs mchid, nonce_str, timestamp, serial_no, signature" };
  }
  if (mchid !== sim.opts.mchid) return { issue: "mchid in Authorization does not match the merchant" };
  if (serial_no !== sim.opts.merchant.serial) return { issue: "serial_no is not the merchant certificate serial" };
  if (!/^\d{1,12}$/.test(timestamp)) return { issue: "timestamp must be Unix seconds" };
  const now = Math.floor(sim.clock.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > MAX_SKEW_S) return { issue: "timestamp outside 5 minutes" };
  const url = new URL(req.url);
  const message = `${req.method.toUpperCase()}\n${url.pathname}${url.search}\n${timestamp}\n${nonce_str}\n${body}\n`;
  if (!(await rsaVerify(await sim.merchantKey, message, signature))) return { issue: "signature does not verify" };
  return null;
}

export interface ApiError {
  status: number;
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

export const apiError = (status: number, code: string, message: string, detail?: Record<string, unknown>): ApiError => ({
  status,
  code,
  message,
  ...(detail ? { detail } : {}),
});

/** A non-2xx WeChat Pay error: JSON, unsigned, with Request-ID. */
export function errorResponse(sim: SimContext, e: ApiError): Response {
  const body: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.detail) body.detail = e.detail;
  return new Response(JSON.stringify(body), {
    status: e.status,
    headers: { "content-type": "application/json; charset=utf-8", "request-id": sim.requestId() },
  });
}

/** A signed 2xx answer; `body` undefined → empty body (204). */
export async function signedResponse(sim: SimContext, req: Request, status: number, body?: unknown): Promise<Response> {
  const text = body === undefined ? "" : JSON.stringify(body);
  const signer = sim.responseSigner(req.headers.get("wechatpay-serial"));
  const ts = String(Math.floor(sim.clock.now() / 1000));
  const nonce = sim.nonce32();
  const signature = await rsaSign(await signer.key, `${ts}\n${nonce}\n${text}\n`);
  const headers = new Headers({
    "request-id": sim.requestId(),
    "wechatpay-timestamp": ts,
    "wechatpay-nonce": nonce,
    "wechatpay-signature": signature,
    "wechatpay-serial": signer.serial,
    "wechatpay-signature-type": SCHEME,
  });
  if (text) headers.set("content-type", "application/json; charset=utf-8");
  return new Response(text === "" ? null : text, { status, headers });
}

/** Turns a handler's outcome into the wire answer. */
export async function answer(sim: SimContext, req: Request, out: ApiError | { status: number; body?: unknown }): Promise<Response> {
  if ("code" in out) return errorResponse(sim, out);
  return signedResponse(sim, req, out.status, out.body);
}

/** Hono middleware body for every /v3 route: 401 SIGN_ERROR unless the request is signed correctly. */
export async function requireSignature(sim: SimContext, c: SimC): Promise<Response | null> {
  const body = await c.req.text();
  const failure = await verifyMerchantRequest(sim, c.req.raw, body);
  if (!failure) return null;
  return errorResponse(sim, apiError(401, "SIGN_ERROR", `签名错误: ${failure.issue}`, { issue: failure.issue }));
}

/** Parses a JSON request body; a PARAM_ERROR when it is not a JSON object. */
export async function jsonBody(sim: SimContext, c: SimC): Promise<Record<string, unknown> | ApiError> {
  const text = await c.req.text();
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* fallthrough */
  }
  return apiError(400, "PARAM_ERROR", "请求体不是有效的JSON对象");
}

/**
 * @module wechat/pay/client — the only code that calls `fetch` for WeChat Pay, and the
 * `WechatPayPort` the domain uses.
 *
 * The transport signs each attempt (WECHATPAY.md B), sends exactly the signed bytes, bounds each
 * attempt with a timeout, retries 5xx/429/network/timeout at most twice with back-off (J.6), and
 * classifies the answer. It returns every 2xx unverified, with its raw bytes: the port verifies,
 * certificates.ts bootstraps, and bill files are deliberately not verified (I.2). Non-2xx is an `ApiError`,
 * parsed without requiring signatures (C.2: error answers often lack them). The port verifies
 * every 2xx; one that does not verify is an `IndeterminateError`, never trusted.
 */
import type { Config } from "../../config";
import type { AppDeps } from "../../context";
import { unixSeconds } from "../../lib/clock";
import { fromUtf8 } from "../../lib/encoding";
import { nonce32 } from "../../lib/random";
import type { Logger } from "../../lib/log";
import type { Clock } from "../../lib/clock";
import { ApiError, IndeterminateError, WechatPayError } from "./errors";
import type { JsapiPrepayRequest, RefundRequest, RefundResource, TradeBillLink, Transaction, WechatPayPort } from "./port";
import { authorize, canonicalUrlOf, importMerchantKey } from "./signer";
import { type KeyResolver, verifySignedMessage } from "./verifier";

export interface TransportOptions {
  /** Per attempt (AbortSignal.timeout). Default 5000 ms. */
  timeoutMs?: number;
  /** Retries after the first attempt for 5xx/429/network/timeout. Default 2. */
  maxRetries?: number;
  /** Waits before retry 1, 2, … (through deps.sleep). */
  backoffMs?: readonly number[];
  userAgent?: string;
}

export interface SendRequest {
  method: "GET" | "POST";
  /** A path with query (`/v3/…?mchid=…`) under WXPAY_API_BASE, or an absolute URL (bill download). */
  url: string;
  /** The exact JSON text to send; it is also the text signed. */
  body?: string;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  /** The raw body bytes, as received: verification runs over these (C.2). */
  body: Uint8Array;
  requestId: string | null;
}

export interface Transport {
  send(req: SendRequest): Promise<RawResponse>;
}

export const DEFAULT_USER_AGENT = "wxpay-edge/0.1";
const DEFAULTS = { timeoutMs: 5000, maxRetries: 2, backoffMs: [200, 800] as readonly number[] };

/** D.4: WeChat's error body `{code, message, detail}`; anything else becomes `HTTP_<status>`. */
export function parseApiError(status: number, body: Uint8Array, requestId: string | null, afterUnknownAttempt = false): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(body));
  } catch {
    parsed = null;
  }
  const o = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const code = typeof o.code === "string" && o.code !== "" ? o.code : `HTTP_${status}`;
  const message = typeof o.message === "string" ? o.message : "";
  return new ApiError(status, code, message, o.detail ?? null, requestId, afterUnknownAttempt);
}

export function createTransport(config: Config, deps: AppDeps, options: TransportOptions = {}): Transport {
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const maxRetries = options.maxRetries ?? DEFAULTS.maxRetries;
  const backoffMs = options.backoffMs ?? DEFAULTS.backoffMs;
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;

  return {
    async send(req) {
      const url = new URL(/^https?:\/\//.test(req.url) ? req.url : `${config.wxpayApiBase}${req.url}`);
      const canonicalUrl = canonicalUrlOf(url);
      const key = await importMerchantKey(config.mchPrivateKeyPem);
      const log = deps.logger.with({ wxpay: `${req.method} ${url.pathname}` }); // never the query: it may carry a token
      let lastStatus: number | undefined;
      let lastCause: unknown;
      /** An earlier attempt had no known outcome (it may have taken effect at WeChat). */
      let unknownEarlier = false;

      for (let attempt = 0; attempt <= maxRetries; attempt++) {
        if (attempt > 0) await deps.sleep(backoffMs[Math.min(attempt - 1, backoffMs.length - 1)] ?? 0);
        // Fresh timestamp and nonce per attempt; the body text is the same string every time.
        const authorization = await authorize({
          key,
          mchid: config.mchid,
          serialNo: config.mchSerial,
          method: req.method,
          canonicalUrl,
          timestamp: unixSeconds(deps.clock),
          nonce: nonce32(deps.random),
          body: req.body ?? "",
        });
        const headers = new Headers({ Authorization: authorization, Accept: "application/json", "User-Agent": userAgent });
        if (req.body !== undefined) headers.set("Content-Type", "application/json");
        // C.5: in public-key mode this asks WeChat to sign its answer with the public key.
        if (config.publicKey) headers.set("Wechatpay-Serial", config.publicKey.id);

        let res: Response;
        let body: Uint8Array;
        try {
          res = await deps.fetch(url.href, { method: req.method, headers, body: req.body ?? null, signal: AbortSignal.timeout(timeoutMs) });
          body = new Uint8Array(await res.arrayBuffer());
        } catch (cause) {
          lastCause = cause;
          unknownEarlier = true;
          lastStatus = undefined;
          const timeout = cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError");
          log.warn("wxpay call failed", { attempt, failure: timeout ? "timeout" : "network", error: cause });
          continue;
        }
        const requestId = res.headers.get("Request-ID");
        // Debug: routine; the audit row and the caller's one info line per request say what happened.
        log.debug("wxpay call", { attempt, status: res.status, requestId });
        if (res.status >= 200 && res.status < 300) return { status: res.status, headers: res.headers, body, requestId };
        if (res.status === 429 || res.status >= 500) {
          lastStatus = res.status;
          lastCause = parseApiError(res.status, body, requestId);
          unknownEarlier = true;
          continue;
        }
        throw parseApiError(res.status, body, requestId, unknownEarlier);
      }
      const what = lastStatus === undefined ? "no answer (network error or timeout)" : `HTTP ${lastStatus}`;
      throw new IndeterminateError(
        `WeChat Pay ${req.method} ${url.pathname}: ${what} after ${maxRetries + 1} attempts; the outcome is unknown — query before deciding`,
        { cause: lastCause, status: lastStatus },
      );
    },
  };
}

const seg = (s: string): string => encodeURIComponent(s);

/** The port: WeChat's paths (D, F, H, I), every 2xx verified before it is believed. */
export function createWechatPayClient(opts: {
  config: Config;
  transport: Transport;
  keys: KeyResolver;
  clock: Clock;
  logger: Logger;
}): WechatPayPort {
  const { config, transport, keys, clock, logger } = opts;

  /** Sends, verifies over the raw bytes (C.2), then parses; null for an empty (204) body. */
  async function call(method: "GET" | "POST", url: string, body?: unknown): Promise<Record<string, unknown> | null> {
    // JSON.stringify once: this exact text is signed and sent, on every attempt.
    const res = await transport.send({ method, url, body: body === undefined ? undefined : JSON.stringify(body) });
    try {
      await verifySignedMessage({ headers: res.headers, body: res.body, clock, keys, origin: "answer" });
    } catch (cause) {
      logger.warn("wxpay answer did not verify", { path: url.split("?")[0], status: res.status, requestId: res.requestId, failure: cause instanceof WechatPayError ? cause.code : "error" });
      throw new IndeterminateError(
        `WeChat Pay answered HTTP ${res.status} but the answer did not verify (${cause instanceof WechatPayError ? cause.code : "error"}); the outcome is unknown`,
        { cause, status: res.status },
      );
    }
    if (res.body.length === 0) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(fromUtf8(res.body));
    } catch (cause) {
      throw new IndeterminateError(`WeChat Pay answered HTTP ${res.status} with a verified body that is not JSON`, { cause, status: res.status });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new IndeterminateError(`WeChat Pay answered HTTP ${res.status} with a verified body that is not a JSON object`, { status: res.status });
    }
    return parsed as Record<string, unknown>;
  }

  async function object(method: "GET" | "POST", url: string, body?: unknown): Promise<Record<string, unknown>> {
    const o = await call(method, url, body);
    if (!o) throw new IndeterminateError(`WeChat Pay answered ${method} ${url.split("?")[0]} with an empty body`);
    return o;
  }

  function need(o: Record<string, unknown>, field: string, what: string): void {
    if (typeof o[field] !== "string" || o[field] === "") throw new IndeterminateError(`WeChat Pay ${what} answer has no ${field}`);
  }

  const mchid = seg(config.mchid);
  return {
    async jsapiPrepay(body: JsapiPrepayRequest) {
      const o = await object("POST", "/v3/pay/transactions/jsapi", body);
      need(o, "prepay_id", "prepay");
      return { prepay_id: o.prepay_id as string };
    },
    async queryByOutTradeNo(outTradeNo: string) {
      const o = await object("GET", `/v3/pay/transactions/out-trade-no/${seg(outTradeNo)}?mchid=${mchid}`);
      need(o, "trade_state", "query");
      return o as unknown as Transaction;
    },
    async closeOrder(outTradeNo: string) {
      // F.3: 204 with an empty body, still signed over "TS\nNONCE\n\n".
      await call("POST", `/v3/pay/transactions/out-trade-no/${seg(outTradeNo)}/close`, { mchid: config.mchid });
    },
    async createRefund(body: RefundRequest) {
      const o = await object("POST", "/v3/refund/domestic/refunds", body);
      need(o, "status", "refund");
      return o as unknown as RefundResource;
    },
    async queryRefund(outRefundNo: string) {
      const o = await object("GET", `/v3/refund/domestic/refunds/${seg(outRefundNo)}`);
      need(o, "status", "refund query");
      return o as unknown as RefundResource;
    },
    async tradeBill(billDate: string, billType: "ALL" | "SUCCESS" | "REFUND" = "ALL") {
      const o = await object("GET", `/v3/bill/tradebill?bill_date=${seg(billDate)}&bill_type=${seg(billType)}`);
      need(o, "download_url", "trade bill");
      return o as unknown as TradeBillLink;
    },
    async downloadBill(downloadUrl: string) {
      // I.2: signed like any call, but the file answer is not signed; the caller checks hash_value.
      const u = new URL(downloadUrl);
      const base = new URL(config.wxpayApiBase);
      if (u.origin !== base.origin && !(u.protocol === "https:" && /(^|\.)mch\.weixin\.qq\.com$/.test(u.hostname))) {
        throw new WechatPayError("invalid_download_url", "bill download_url is not on the WeChat Pay API host: refusing to send a signed request there");
      }
      const res = await transport.send({ method: "GET", url: u.href });
      return res.body;
    },
  };
}

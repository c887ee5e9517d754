/**
 * @module wechat/login/code2session — exchange a `wx.login` code for openid + session_key.
 *
 * GET ${WX_API_BASE}/sns/jscode2session?appid&secret&js_code&grant_type=authorization_code
 * (WECHATPAY.md A.2). The AppSecret travels only in this request's query string and is never
 * logged. Outcomes are classified here; the route maps them to HTTP.
 *
 * Retries: only errcode -1 ("system busy": WeChat did not consume the code) is retried, at most
 * twice with back-off. A timeout or network error is never retried: the first call may have
 * used the single-use code, so a retry would only earn 40163.
 */
import { AppError } from "../../errors";
import type { Logger } from "../../lib/log";

export interface Code2SessionResult {
  openid: string;
  sessionKey: string;
  unionid: string | null;
}

export interface Code2SessionDeps {
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  logger: Logger;
}

export interface Code2SessionParams {
  apiBase: string;
  appid: string;
  secret: string;
  code: string;
  /** Per attempt; default 4 s. */
  timeoutMs?: number;
}

/** Back-off before retry n (1-based) after errcode -1. */
const BUSY_BACKOFF_MS = [200, 600];

/** What one answer from WeChat means. Pure: exported for tests. */
export type Code2SessionOutcome =
  | { kind: "ok"; result: Code2SessionResult }
  | { kind: "busy" }
  | { kind: "error"; error: AppError };

export function classifyCode2Session(status: number, text: string): Code2SessionOutcome {
  if (status >= 500) return { kind: "error", error: upstream(`WeChat answered HTTP ${status}`) };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: "error", error: upstream("WeChat's answer was not JSON") };
  }
  if (typeof body !== "object" || body === null) return { kind: "error", error: upstream("WeChat's answer was not an object") };
  const b = body as Record<string, unknown>;
  const errcode = b.errcode === undefined ? 0 : Number(b.errcode);
  if (errcode === 0 && typeof b.openid === "string" && b.openid !== "" && typeof b.session_key === "string" && b.session_key !== "") {
    return {
      kind: "ok",
      result: {
        openid: b.openid,
        sessionKey: b.session_key,
        unionid: typeof b.unionid === "string" && b.unionid !== "" ? b.unionid : null,
      },
    };
  }
  switch (errcode) {
    case -1:
      return { kind: "busy" };
    case 40029:
      return { kind: "error", error: new AppError("invalid_code", "the login code is invalid or expired; call wx.login again") };
    case 40163:
      return { kind: "error", error: new AppError("invalid_code", "the login code was already used; call wx.login again") };
    case 40226:
      return { kind: "error", error: new AppError("user_blocked", "WeChat's risk control refused this user's login") };
    case 45011:
      return { kind: "error", error: new AppError("rate_limited", "WeChat is rate-limiting logins for this user; retry in a minute", { retryAfter: 60 }) };
    case 0:
      return { kind: "error", error: upstream("WeChat's answer had no openid or session_key") };
    default:
      return {
        kind: "error",
        error: upstream(`WeChat answered errcode ${errcode}`, {
          errcode,
          hint: errcode === 40013 || errcode === 40125 || errcode === 41002 || errcode === 41004
            ? "check WX_APPID and WX_APPSECRET"
            : undefined,
        }),
      };
  }
}

function upstream(message: string, logFields?: Record<string, unknown>): AppError {
  return new AppError("upstream_unavailable", `login is unavailable right now (${message}); retry shortly`, {
    ...(logFields ? { logFields } : {}),
  });
}

export async function code2Session(deps: Code2SessionDeps, p: Code2SessionParams): Promise<Code2SessionResult> {
  const url =
    `${p.apiBase}/sns/jscode2session?appid=${encodeURIComponent(p.appid)}` +
    `&secret=${encodeURIComponent(p.secret)}&js_code=${encodeURIComponent(p.code)}&grant_type=authorization_code`;
  for (let attempt = 0; ; attempt++) {
    let status: number;
    let text: string;
    try {
      const res = await deps.fetch(url, {
        method: "GET",
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(p.timeoutMs ?? 4000),
      });
      status = res.status;
      text = await res.text();
    } catch (cause) {
      const timedOut = cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError");
      throw new AppError(
        "upstream_unavailable",
        timedOut ? "WeChat did not answer in time; call wx.login again and retry" : "could not reach WeChat; call wx.login again and retry",
        { cause: cause instanceof Error ? new Error(cause.name) : undefined },
      );
    }
    const outcome = classifyCode2Session(status, text);
    if (outcome.kind === "ok") return outcome.result;
    if (outcome.kind === "error") throw outcome.error;
    const backoff = BUSY_BACKOFF_MS[attempt];
    if (backoff === undefined) throw upstream("WeChat stayed busy (errcode -1) after retries");
    deps.logger.warn("jscode2session busy, retrying", { attempt: attempt + 1 });
    await deps.sleep(backoff);
  }
}

/**
 * @module wechat/login/code2session — exchange a `wx.login` code for openid + session_key.
 *
 * GET ${WX_API_BASE}/sns/jscode2session?appid&secret&js_code&grant_type=authorization_code
 * (WECHATPAY.md A.2), sent through the transport every api.weixin.qq.com call uses
 * (wechat/server/transport.ts: errcode classification, `rid` logged, the URL — which carries the
 * AppSecret — never logged). No access token: this API authenticates with the AppSecret itself.
 * What each outcome means to the mini program is decided here; the route maps it to HTTP.
 *
 * Retries: only errcode -1 ("system busy": WeChat did not consume the code) is retried, at most
 * twice with back-off. A timeout or network error is never retried: the first call may have
 * used the single-use code, so a retry would only earn 40163.
 */
import { AppError } from "../../errors";
import type { Logger } from "../../lib/log";
import { WxErrcodeError, WxServerError, WxUnknownOutcomeError } from "../server/errors";
import { sendWx, type WxRequest } from "../server/transport";

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

/** The only answers to jscode2session that are the client's doing or WeChat's verdict on the user. */
const LOGIN_ERRCODES: ReadonlySet<number> = new Set([40029, 40163, 40226, 45011]);

export const JSCODE2SESSION_API = "sns/jscode2session";

/** The session in a successful answer (errcode 0); an answer without openid or session_key is unusable. */
export function sessionOf(b: Record<string, unknown>): Code2SessionResult {
  if (typeof b.openid !== "string" || b.openid === "" || typeof b.session_key !== "string" || b.session_key === "") {
    throw upstream("WeChat's answer had no openid or session_key");
  }
  return {
    openid: b.openid,
    sessionKey: b.session_key,
    unionid: typeof b.unionid === "string" && b.unionid !== "" ? b.unionid : null,
  };
}

/** What a failed exchange means to the mini program. Pure: exported for tests. */
export function loginErrorOf(err: WxServerError): AppError {
  if (err instanceof WxUnknownOutcomeError) {
    if (err.reason === "timeout") return new AppError("upstream_unavailable", "WeChat did not answer in time; call wx.login again and retry", { cause: err });
    if (err.reason === "network") return new AppError("upstream_unavailable", "could not reach WeChat; call wx.login again and retry", { cause: err });
    return upstream(err.reason === "http_status" ? `WeChat answered HTTP ${err.status}` : "WeChat's answer was not JSON");
  }
  const errcode = (err as WxErrcodeError).errcode;
  switch (errcode) {
    case 40029:
      return new AppError("invalid_code", "the login code is invalid or expired; call wx.login again");
    case 40163:
      return new AppError("invalid_code", "the login code was already used; call wx.login again");
    case 40226:
      return new AppError("user_blocked", "WeChat's risk control refused this user's login");
    case 45011:
      return new AppError("rate_limited", "WeChat is rate-limiting logins for this user; retry in a minute", { retryAfter: 60 });
    default:
      return upstream(`WeChat answered errcode ${errcode}`, {
        errcode,
        rid: (err as WxErrcodeError).rid,
        hint: errcode === 40013 || errcode === 40125 || errcode === 41002 || errcode === 41004
          ? "check WX_APPID and WX_APPSECRET"
          : undefined,
      });
  }
}

function upstream(message: string, logFields?: Record<string, unknown>): AppError {
  return new AppError("upstream_unavailable", `login is unavailable right now (${message}); retry shortly`, {
    ...(logFields ? { logFields } : {}),
  });
}

export async function code2Session(deps: Code2SessionDeps, p: Code2SessionParams): Promise<Code2SessionResult> {
  const request: WxRequest = {
    api: JSCODE2SESSION_API,
    method: "GET",
    query: { appid: p.appid, secret: p.secret, js_code: p.code, grant_type: "authorization_code" },
    timeoutMs: p.timeoutMs ?? 4000,
    expectedErrcodes: LOGIN_ERRCODES,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      return sessionOf(await sendWx(deps, p.apiBase, request));
    } catch (err) {
      if (!(err instanceof WxServerError)) throw err;
      // -1 (system busy) is the one answer that says WeChat did not consume the code.
      if (!(err instanceof WxErrcodeError && err.errcode === -1)) throw loginErrorOf(err);
    }
    const backoff = BUSY_BACKOFF_MS[attempt];
    if (backoff === undefined) throw upstream("WeChat stayed busy (errcode -1) after retries");
    deps.logger.warn("jscode2session busy, retrying", { attempt: attempt + 1 });
    await deps.sleep(backoff);
  }
}

/**
 * @module config — the environment, parsed and validated once per request (SPEC §2).
 *
 * A missing or malformed value throws `AppError("misconfigured", "<NAME>: <what is wrong>")`:
 * the message names the variable and the problem, never the value. Parsing is pure string work
 * (microseconds); keys are imported and cached elsewhere, by their text.
 */
import { AppError } from "./errors";
import { pemToDer, utf8 } from "./lib/encoding";
import { LOG_LEVELS, type LogLevel } from "./lib/log";
import { ENCODING_AES_KEY_RE } from "./wechat/push/cipher";
import { WORKERS_PLANS, type WorkersPlan } from "./reconcile/budget";

export interface Config {
  appid: string;
  appSecret: string;
  mchid: string;
  /** Merchant API certificate serial, upper-case hex. */
  mchSerial: string;
  /** PKCS#8 PEM, normalised (real newlines). */
  mchPrivateKeyPem: string;
  /** Exactly 32 bytes. */
  apiv3Key: string;
  /** Public-key mode: both set, or neither. */
  publicKey: { id: string; pem: string } | null;
  notifyUrl: string;
  /** The notify URL points at this machine: only requests that arrived on localhost may run (app.ts). */
  notifyUrlLocal: boolean;
  sessionSecret: string;
  /** The secret before the last rotation: still accepted to verify tokens and open sealed session_keys. */
  sessionSecretPrevious: string | null;
  adminToken: string;
  wxApiBase: string;
  wxpayApiBase: string;
  orderTtlSeconds: number;
  sessionTtlSeconds: number;
  /** Requests per minute; 0 = off. */
  loginRateLimit: number;
  orderRateLimit: number;
  /** Orders a user may hold in CREATED/PAYING (SPEC §11); 0 = no limit. */
  maxUnpaidOrders: number;
  /** Lowest level written to the log (LOG_LEVEL); default info. */
  logLevel: LogLevel;
  /** Whether shipping must be uploaded (SPEC §9, WX_TRADE_MANAGED): auto = ask is_trade_managed daily. */
  tradeManaged: TradeManaged;
  /** Page WeChat opens from its shipping/receipt messages (WX_ORDER_JUMP_PATH); null = not set. */
  orderJumpPath: string | null;
  /** Per-invocation limits the cron job stays within (WORKERS_PLAN); default free. */
  workersPlan: WorkersPlan;
  /** Message push (SPEC §9): null when WX_PUSH_TOKEN and WX_PUSH_AES_KEY are unset (the route answers 404). */
  push: PushConfig | null;
}

export interface PushConfig {
  token: string;
  /** EncodingAESKeys, current first, then WX_PUSH_AES_KEY_PREVIOUS when set. */
  aesKeys: string[];
}

export const TRADE_MANAGED = ["auto", "true", "false"] as const;
export type TradeManaged = (typeof TRADE_MANAGED)[number];

type RawEnv = Partial<Record<string, unknown>>;

/** Hosts where plain http is allowed (local development with the simulator). */
export const LOCAL_HOSTS: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]"]);

class ConfigReader {
  constructor(private readonly env: RawEnv) {}

  private fail(name: string, problem: string): never {
    throw new AppError("misconfigured", `${name}: ${problem}`);
  }

  raw(name: string): string | undefined {
    const v = this.env[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") this.fail(name, "must be a string");
    const t = v.trim();
    return t === "" ? undefined : t;
  }

  required(name: string, hint = "is not set"): string {
    return this.raw(name) ?? this.fail(name, hint);
  }

  pattern(name: string, re: RegExp, problem: string): string {
    const v = this.required(name);
    if (!re.test(v)) this.fail(name, problem);
    return v;
  }

  /** Unset → null; set → must match. */
  optionalPattern(name: string, re: RegExp, problem: string): string | null {
    const v = this.raw(name);
    if (v === undefined) return null;
    if (!re.test(v)) this.fail(name, problem);
    return v;
  }

  int(name: string, dflt: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v)) this.fail(name, "must be a whole number");
    const n = Number(v);
    if (n < min || n > max) this.fail(name, `must be between ${min} and ${max}`);
    return n;
  }

  oneOf<T extends string>(name: string, values: readonly T[], dflt: T): T {
    const v = this.raw(name);
    if (v === undefined) return dflt;
    if (!(values as readonly string[]).includes(v)) this.fail(name, `must be one of ${values.join(", ")}`);
    return v as T;
  }

  url(name: string, dflt: string): string {
    const v = this.raw(name) ?? dflt;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      return this.fail(name, "is not a URL");
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") this.fail(name, "must be an http(s) URL");
    // jscode2session answers are unsigned: TLS is what proves an openid came from WeChat.
    if (u.protocol !== "https:" && !LOCAL_HOSTS.has(u.hostname)) this.fail(name, "must be https (plain http only for localhost/127.0.0.1)");
    if (u.search || u.hash) this.fail(name, "must not have a query or fragment");
    return v.replace(/\/+$/, "");
  }

  pem(name: string, label: string, hint: string): string {
    const v = this.required(name);
    if (!pemToDer(v, label)) this.fail(name, hint);
    return v.replace(/\\n/g, "\n").replace(/\r/g, "").trim() + "\n";
  }
}

export function parseConfig(env: RawEnv): Config {
  const r = new ConfigReader(env);
  const appid = r.pattern("WX_APPID", /^[A-Za-z0-9_-]{1,32}$/, "must be the mini-program AppID (e.g. wx…, at most 32 characters)");
  const appSecret = r.required("WX_APPSECRET", "is not set (the mini-program AppSecret; `wrangler secret put WX_APPSECRET`)");
  const mchid = r.pattern("WXPAY_MCHID", /^[0-9A-Za-z]{1,32}$/, "must be the merchant id (digits, at most 32)");
  const mchSerial = r
    .pattern("WXPAY_MCH_SERIAL", /^[0-9A-Fa-f]{8,64}$/, "must be the merchant API certificate serial number in hex")
    .toUpperCase();
  const mchPrivateKeyPem = r.pem(
    "WXPAY_MCH_PRIVATE_KEY",
    "PRIVATE KEY",
    "must be a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----, the apiclient_key.pem file); convert a PKCS#1 key with `openssl pkcs8 -topk8 -nocrypt`",
  );
  const apiv3Key = r.required("WXPAY_APIV3_KEY", "is not set (the 32-character APIv3 key from the merchant platform)");
  const apiv3Len = utf8(apiv3Key).length;
  if (apiv3Len !== 32) throw new AppError("misconfigured", `WXPAY_APIV3_KEY: must be exactly 32 bytes (got ${apiv3Len}); it is the APIv3 key, not the APIv2 key`);

  const pubId = r.raw("WXPAY_PUBLIC_KEY_ID");
  const pubPem = r.raw("WXPAY_PUBLIC_KEY");
  let publicKey: Config["publicKey"] = null;
  if (pubId !== undefined || pubPem !== undefined) {
    if (pubId === undefined) throw new AppError("misconfigured", "WXPAY_PUBLIC_KEY_ID: must be set when WXPAY_PUBLIC_KEY is");
    if (pubPem === undefined) throw new AppError("misconfigured", "WXPAY_PUBLIC_KEY: must be set when WXPAY_PUBLIC_KEY_ID is");
    if (!/^PUB_KEY_ID_[0-9A-Za-z_]+$/.test(pubId)) throw new AppError("misconfigured", "WXPAY_PUBLIC_KEY_ID: must look like PUB_KEY_ID_…");
    publicKey = {
      id: pubId,
      pem: r.pem("WXPAY_PUBLIC_KEY", "PUBLIC KEY", "must be an SPKI PEM (-----BEGIN PUBLIC KEY-----, the pub_key.pem file)"),
    };
  }

  const notifyUrl = r.required("WXPAY_NOTIFY_URL");
  let nu: URL;
  try {
    nu = new URL(notifyUrl);
  } catch {
    throw new AppError("misconfigured", "WXPAY_NOTIFY_URL: is not a URL");
  }
  if (nu.search || nu.hash) throw new AppError("misconfigured", "WXPAY_NOTIFY_URL: must not have a query string or fragment (WeChat rejects it)");
  if (nu.protocol !== "https:" && !(nu.protocol === "http:" && LOCAL_HOSTS.has(nu.hostname))) {
    throw new AppError("misconfigured", "WXPAY_NOTIFY_URL: must be https (plain http only for localhost/127.0.0.1)");
  }
  if (notifyUrl.length > 255) throw new AppError("misconfigured", "WXPAY_NOTIFY_URL: must be at most 255 characters");

  const sessionSecret = r.required("SESSION_SECRET", "is not set (at least 32 random bytes)");
  if (utf8(sessionSecret).length < 32) throw new AppError("misconfigured", "SESSION_SECRET: must be at least 32 bytes");
  const sessionSecretPrevious = r.raw("SESSION_SECRET_PREVIOUS") ?? null;
  if (sessionSecretPrevious !== null && utf8(sessionSecretPrevious).length < 32) {
    throw new AppError("misconfigured", "SESSION_SECRET_PREVIOUS: must be at least 32 bytes (the SESSION_SECRET before the rotation), or unset");
  }
  if (sessionSecretPrevious === sessionSecret) {
    throw new AppError("misconfigured", "SESSION_SECRET_PREVIOUS: equals SESSION_SECRET; set SESSION_SECRET to the new secret");
  }
  // SPEC §8: no weak secrets in production. Whoever holds it can refund every order.
  const adminToken = r.required("ADMIN_TOKEN", "is not set (bearer token for /admin; e.g. `openssl rand -hex 32`)");
  const adminLen = utf8(adminToken).length;
  if (adminLen < 32) {
    throw new AppError("misconfigured", `ADMIN_TOKEN: must be at least 32 bytes (got ${adminLen}); generate one with \`openssl rand -hex 32\``);
  }

  return {
    appid,
    appSecret,
    mchid,
    mchSerial,
    mchPrivateKeyPem,
    apiv3Key,
    publicKey,
    notifyUrl,
    notifyUrlLocal: LOCAL_HOSTS.has(nu.hostname),
    sessionSecret,
    sessionSecretPrevious,
    adminToken,
    wxApiBase: r.url("WX_API_BASE", "https://api.weixin.qq.com"),
    wxpayApiBase: r.url("WXPAY_API_BASE", "https://api.mch.weixin.qq.com"),
    // WeChat moves a time_expire less than a minute ahead to one minute (WECHATPAY.md D.2).
    orderTtlSeconds: r.int("ORDER_TTL_SECONDS", 1800, 1, 90 * 24 * 3600),
    sessionTtlSeconds: r.int("SESSION_TTL_SECONDS", 7200, 1, 30 * 24 * 3600),
    loginRateLimit: r.int("LOGIN_RATE_LIMIT", 30, 0, 1_000_000),
    maxUnpaidOrders: r.int("MAX_UNPAID_ORDERS", 10, 0, 1_000_000),
    orderRateLimit: r.int("ORDER_RATE_LIMIT", 30, 0, 1_000_000),
    logLevel: r.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    push: parsePush(r),
    tradeManaged: r.oneOf("WX_TRADE_MANAGED", TRADE_MANAGED, "auto"),
    // A mini-program page path; WeChat appends its own query keys (WECHATPAY.md N.7).
    orderJumpPath: r.optionalPattern(
      "WX_ORDER_JUMP_PATH",
      /^[A-Za-z0-9_\-][A-Za-z0-9_\-./]{0,127}(\?[\x21-\x7e]{0,256})?$/,
      "must be a mini-program page path such as pages/order/index (no leading slash)",
    ),
    workersPlan: r.oneOf("WORKERS_PLAN", WORKERS_PLANS, "free"),
  };
}

/** WX_PUSH_TOKEN and WX_PUSH_AES_KEY together or not at all; the previous key only with them. */
function parsePush(r: ConfigReader): PushConfig | null {
  const token = r.raw("WX_PUSH_TOKEN");
  const key = r.raw("WX_PUSH_AES_KEY");
  const previous = r.raw("WX_PUSH_AES_KEY_PREVIOUS");
  if (token === undefined && key === undefined) {
    if (previous !== undefined) throw new AppError("misconfigured", "WX_PUSH_AES_KEY_PREVIOUS: set only together with WX_PUSH_TOKEN and WX_PUSH_AES_KEY");
    return null;
  }
  if (token === undefined) throw new AppError("misconfigured", "WX_PUSH_TOKEN: must be set when WX_PUSH_AES_KEY is (the Token of 消息推送配置)");
  if (key === undefined) throw new AppError("misconfigured", "WX_PUSH_AES_KEY: must be set when WX_PUSH_TOKEN is (the EncodingAESKey of 消息推送配置)");
  // The mini-program admin only accepts 3–32 letters and digits as the Token.
  if (!/^[A-Za-z0-9]{3,32}$/.test(token)) throw new AppError("misconfigured", "WX_PUSH_TOKEN: must be 3–32 letters or digits, as the mini-program admin requires");
  const aesKeys = [key];
  for (const [name, v] of [["WX_PUSH_AES_KEY", key], ["WX_PUSH_AES_KEY_PREVIOUS", previous]] as const) {
    if (v === undefined) continue;
    if (!ENCODING_AES_KEY_RE.test(v)) throw new AppError("misconfigured", `${name}: must be exactly 43 characters of [A-Za-z0-9+/] (the EncodingAESKey, without a trailing "=")`);
    if (name === "WX_PUSH_AES_KEY_PREVIOUS") aesKeys.push(v);
  }
  return { token, aesKeys };
}

/** Parsed configs by env object: workerd hands the same env to every request of an isolate. */
const cache = new WeakMap<object, Config>();

export function getConfig(env: object): Config {
  let cfg = cache.get(env);
  if (!cfg) {
    cfg = parseConfig(env as RawEnv);
    cache.set(env, cfg);
  }
  return cfg;
}

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { logLevelOf } from "../../src/lib/log";
import { AppError } from "../../src/errors";
import * as keys from "../fixtures/keys";
import { createHarness } from "../support/harness";

const good = () => ({ ...(env as unknown as Record<string, unknown>) });

function misconfigured(overrides: Record<string, unknown>): string {
  try {
    parseConfig({ ...good(), ...overrides });
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("misconfigured");
    return (err as AppError).message;
  }
  throw new Error("expected a misconfiguration");
}

describe("parseConfig", () => {
  it("accepts the test configuration with defaults applied", () => {
    const cfg = parseConfig({ ...good(), WX_API_BASE: undefined, ORDER_TTL_SECONDS: undefined });
    expect(cfg.wxApiBase).toBe("https://api.weixin.qq.com");
    expect(cfg.orderTtlSeconds).toBe(1800);
    expect(cfg.publicKey).toBeNull();
    expect(cfg.mchSerial).toBe(keys.MERCHANT_SERIAL);
  });

  it.each([
    [{ WX_APPID: undefined }, /^WX_APPID: is not set/],
    [{ WX_APPSECRET: "" }, /^WX_APPSECRET: is not set/],
    [{ WXPAY_MCHID: "12 34" }, /^WXPAY_MCHID: /],
    [{ WXPAY_MCH_SERIAL: "not-hex" }, /^WXPAY_MCH_SERIAL: /],
    [{ WXPAY_MCH_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----" }, /^WXPAY_MCH_PRIVATE_KEY: must be a PKCS#8 PEM/],
    [{ WXPAY_APIV3_KEY: "0123456789abcdef" }, /^WXPAY_APIV3_KEY: must be exactly 32 bytes \(got 16\)/],
    [{ WXPAY_PUBLIC_KEY_ID: "PUB_KEY_ID_01" }, /^WXPAY_PUBLIC_KEY: must be set/],
    [{ WXPAY_PUBLIC_KEY: keys.PUBLIC_KEY_PEM }, /^WXPAY_PUBLIC_KEY_ID: must be set/],
    [{ WXPAY_PUBLIC_KEY: keys.PUBLIC_KEY_PEM, WXPAY_PUBLIC_KEY_ID: "KEY1" }, /^WXPAY_PUBLIC_KEY_ID: must look like/],
    [{ WXPAY_PUBLIC_KEY: "garbage", WXPAY_PUBLIC_KEY_ID: keys.PUBLIC_KEY_ID }, /^WXPAY_PUBLIC_KEY: must be an SPKI PEM/],
    [{ WXPAY_NOTIFY_URL: "http://merchant.example.com/notify" }, /^WXPAY_NOTIFY_URL: must be https/],
    [{ WXPAY_NOTIFY_URL: "https://merchant.example.com/notify?x=1" }, /^WXPAY_NOTIFY_URL: must not have a query/],
    [{ SESSION_SECRET: "short" }, /^SESSION_SECRET: must be at least 32 bytes/],
    [{ ADMIN_TOKEN: "  " }, /^ADMIN_TOKEN: is not set/],
    [{ ADMIN_TOKEN: "admin" }, /^ADMIN_TOKEN: must be at least 32 bytes \(got 5\)/],
    [{ ADMIN_TOKEN: "x".repeat(31) }, /^ADMIN_TOKEN: must be at least 32 bytes \(got 31\)/],
    [{ ORDER_TTL_SECONDS: "0" }, /^ORDER_TTL_SECONDS: must be between 1 and/],
    [{ WXPAY_API_BASE: "ftp://x" }, /^WXPAY_API_BASE: must be an http/],
    [{ WX_API_BASE: "http://api.weixin.qq.com" }, /^WX_API_BASE: must be https \(plain http only for localhost\/127\.0\.0\.1\)/],
    [{ WXPAY_API_BASE: "http://10.0.0.5:8788" }, /^WXPAY_API_BASE: must be https/],
    [{ WXPAY_API_BASE: "http://localhost.evil.example" }, /^WXPAY_API_BASE: must be https/],
    [{ SESSION_SECRET_PREVIOUS: "short" }, /^SESSION_SECRET_PREVIOUS: must be at least 32 bytes/],
    [{ SESSION_SECRET_PREVIOUS: keys.SESSION_SECRET }, /^SESSION_SECRET_PREVIOUS: equals SESSION_SECRET/],
    [{ MAX_UNPAID_ORDERS: "-1" }, /^MAX_UNPAID_ORDERS: must be a whole number/],
    [{ ORDER_TTL_SECONDS: "ten" }, /^ORDER_TTL_SECONDS: must be a whole number/],
    [{ LOGIN_RATE_LIMIT: "-1" }, /^LOGIN_RATE_LIMIT: must be a whole number/],
    [{ LOG_LEVEL: "verbose" }, /^LOG_LEVEL: must be one of debug, info, warn, error$/],
    [{ WX_TRADE_MANAGED: "yes" }, /^WX_TRADE_MANAGED: must be one of auto, true, false$/],
    [{ WX_ORDER_JUMP_PATH: "/pages/order/index" }, /^WX_ORDER_JUMP_PATH: must be a mini-program page path/],
    [{ WX_ORDER_JUMP_PATH: "pages/order index" }, /^WX_ORDER_JUMP_PATH: /],
    [{ WORKERS_PLAN: "enterprise" }, /^WORKERS_PLAN: must be one of free, paid$/],
  ])("rejects %o", (overrides, message) => {
    expect(misconfigured(overrides)).toMatch(message);
  });

  it("reads WX_TRADE_MANAGED (default auto) and WX_ORDER_JUMP_PATH (default none)", () => {
    const d = parseConfig({ ...good(), WX_TRADE_MANAGED: undefined, WX_ORDER_JUMP_PATH: undefined });
    expect(d.tradeManaged).toBe("auto");
    expect(d.orderJumpPath).toBeNull();
    const set = parseConfig({ ...good(), WX_TRADE_MANAGED: "false", WX_ORDER_JUMP_PATH: "pages/order/index?from=wx" });
    expect(set.tradeManaged).toBe("false");
    expect(set.orderJumpPath).toBe("pages/order/index?from=wx");
  });

  it("reads LOG_LEVEL (default info); the entry's logger falls back to info for a value the check rejects", () => {
    expect(parseConfig({ ...good(), LOG_LEVEL: undefined }).logLevel).toBe("info");
    expect(parseConfig({ ...good(), LOG_LEVEL: "debug" }).logLevel).toBe("debug");
    expect(parseConfig({ ...good(), LOG_LEVEL: " warn " }).logLevel).toBe("warn");
    expect(logLevelOf("error")).toBe("error");
    expect(logLevelOf("verbose")).toBe("info");
    expect(logLevelOf(undefined)).toBe("info");
  });

  it("reads WORKERS_PLAN (default free: the cron's per-run limits)", () => {
    expect(parseConfig({ ...good(), WORKERS_PLAN: undefined }).workersPlan).toBe("free");
    expect(parseConfig({ ...good(), WORKERS_PLAN: "paid" }).workersPlan).toBe("paid");
  });

  it("allows plain http notify URLs only for local development hosts", () => {
    expect(parseConfig({ ...good(), WXPAY_NOTIFY_URL: "http://127.0.0.1:8787/v1/pay/notify" }).notifyUrl).toContain("127.0.0.1");
    expect(parseConfig({ ...good(), WXPAY_NOTIFY_URL: "http://localhost:8787/v1/pay/notify" }).notifyUrl).toContain("localhost");
  });

  it("reads MAX_UNPAID_ORDERS (default 10, 0 = off) and SESSION_SECRET_PREVIOUS (optional)", () => {
    expect(parseConfig(good()).maxUnpaidOrders).toBe(10);
    expect(parseConfig({ ...good(), MAX_UNPAID_ORDERS: "0" }).maxUnpaidOrders).toBe(0);
    expect(parseConfig(good()).sessionSecretPrevious).toBeNull();
    const previous = "the-previous-session-secret-0123456789";
    expect(parseConfig({ ...good(), SESSION_SECRET_PREVIOUS: previous }).sessionSecretPrevious).toBe(previous);
  });

  it("allows plain http API bases only for local development hosts (the simulator)", () => {
    const cfg = parseConfig({ ...good(), WX_API_BASE: "http://127.0.0.1:8788", WXPAY_API_BASE: "http://localhost:8788/" });
    expect(cfg.wxApiBase).toBe("http://127.0.0.1:8788");
    expect(cfg.wxpayApiBase).toBe("http://localhost:8788");
    expect(parseConfig({ ...good(), WX_API_BASE: "https://sim.example" }).wxApiBase).toBe("https://sim.example");
  });

  it("accepts PEMs written with literal \\n escapes (as env files carry them)", () => {
    const escaped = keys.MERCHANT_PRIVATE_KEY.replace(/\n/g, "\\n");
    expect(parseConfig({ ...good(), WXPAY_MCH_PRIVATE_KEY: escaped }).mchPrivateKeyPem).toBe(keys.MERCHANT_PRIVATE_KEY);
  });

  it("never puts the secret's value in the message", () => {
    const secret = "Zx9-this-is-not-32-bytes";
    expect(misconfigured({ WXPAY_APIV3_KEY: secret })).not.toContain(secret);
  });
});

describe("a misconfigured Worker", () => {
  it("answers 500 misconfigured naming the variable, and logs it without the value", async () => {
    const h = createHarness({ env: { WXPAY_APIV3_KEY: "short-secret-value" } });
    const res = await h.request("POST", "/v1/auth/login", { json: { code: "abc" } });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("misconfigured");
    expect(body.error.message).toMatch(/^WXPAY_APIV3_KEY: /);
    expect(JSON.stringify(body)).not.toContain("short-secret-value");
    expect(h.logs.join("\n")).toContain("WXPAY_APIV3_KEY");
    expect(h.logs.join("\n")).not.toContain("short-secret-value");
  });

  it("refuses a localhost WXPAY_NOTIFY_URL when the request did not arrive on localhost", async () => {
    const h = createHarness({ env: { WXPAY_NOTIFY_URL: "http://127.0.0.1:8787/v1/pay/notify" } });
    const res = await h.request("POST", "/v1/auth/login", { json: { code: "abc" } });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("misconfigured");
    expect(body.error.message).toMatch(/^WXPAY_NOTIFY_URL: points at localhost but this request arrived at worker\.test/);
    // The same value serves requests that did arrive on localhost (npm run dev).
    for (const origin of ["http://127.0.0.1:8787", "http://localhost:8787"]) {
      const local = await h.fetch(new Request(`${origin}/v1/products`));
      expect(local.status).toBe(200);
    }
  });

  it("a short ADMIN_TOKEN is refused on every route it would guard, and not echoed", async () => {
    const weak = "admin-123";
    const h = createHarness({ env: { ADMIN_TOKEN: weak } });
    const res = await h.request("GET", "/admin/orders", { headers: { authorization: `Bearer ${weak}` } });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: "misconfigured", message: expect.stringMatching(/^ADMIN_TOKEN: must be at least 32 bytes/) });
    expect(JSON.stringify(body) + h.logs.join("\n")).not.toContain(weak);
    expect(parseConfig({ ...good(), ADMIN_TOKEN: "x".repeat(32) }).adminToken).toHaveLength(32);
  });

  it("still answers /healthz", async () => {
    const h = createHarness({ env: { WX_APPSECRET: "" } });
    expect((await h.request("GET", "/healthz")).status).toBe(200);
  });
});

describe("parseConfig: message push (WX_PUSH_*)", () => {
  it("is on with the Token and the key; the previous key is tried second", () => {
    expect(parseConfig(good()).push).toEqual({ token: keys.PUSH_TOKEN, aesKeys: [keys.PUSH_AES_KEY] });
    expect(parseConfig({ ...good(), WX_PUSH_AES_KEY_PREVIOUS: keys.PUSH_AES_KEY_OLD }).push?.aesKeys).toEqual([keys.PUSH_AES_KEY, keys.PUSH_AES_KEY_OLD]);
  });

  it("is off (null) when neither is set", () => {
    expect(parseConfig({ ...good(), WX_PUSH_TOKEN: "", WX_PUSH_AES_KEY: undefined }).push).toBeNull();
  });

  it.each([
    [{ WX_PUSH_TOKEN: undefined }, /^WX_PUSH_TOKEN: must be set when WX_PUSH_AES_KEY is/],
    [{ WX_PUSH_AES_KEY: "" }, /^WX_PUSH_AES_KEY: must be set when WX_PUSH_TOKEN is/],
    [{ WX_PUSH_TOKEN: undefined, WX_PUSH_AES_KEY: undefined, WX_PUSH_AES_KEY_PREVIOUS: keys.PUSH_AES_KEY_OLD }, /^WX_PUSH_AES_KEY_PREVIOUS: set only together/],
    [{ WX_PUSH_AES_KEY: keys.PUSH_AES_KEY.slice(1) }, /^WX_PUSH_AES_KEY: must be exactly 43 characters/],
    [{ WX_PUSH_AES_KEY: `${keys.PUSH_AES_KEY.slice(1)}=` }, /^WX_PUSH_AES_KEY: must be exactly 43 characters/],
    [{ WX_PUSH_AES_KEY_PREVIOUS: `${keys.PUSH_AES_KEY}A` }, /^WX_PUSH_AES_KEY_PREVIOUS: must be exactly 43 characters/],
    [{ WX_PUSH_TOKEN: "ab" }, /^WX_PUSH_TOKEN: must be 3–32 letters or digits/],
    [{ WX_PUSH_TOKEN: "with space" }, /^WX_PUSH_TOKEN: must be 3–32 letters or digits/],
  ])("refuses %o", (over, re) => {
    const message = misconfigured(over);
    expect(message).toMatch(re);
    // Names the variable, never the value.
    expect(message).not.toContain(keys.PUSH_AES_KEY.slice(0, 20));
    expect(message).not.toContain(keys.PUSH_TOKEN);
  });
});

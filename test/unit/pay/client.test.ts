/**
 * The HTTP adapter against a scripted fake WeChat Pay: what is signed and sent, what is believed
 * (only verified 2xx), how errors are classified (ApiError vs IndeterminateError), retries.
 */
import { describe, expect, it } from "vitest";
import { fromBase64, fromUtf8, utf8 } from "../../../src/lib/encoding";
import { createCertificateCache } from "../../../src/wechat/pay/certificates";
import { ApiError, IndeterminateError, WechatPayError } from "../../../src/wechat/pay/errors";
import { createWechatPay } from "../../../src/wechat/pay/index";
import { importPublicKeyPem } from "../../../src/wechat/pay/keys";
import type { JsapiPrepayRequest, RefundRequest } from "../../../src/wechat/pay/port";
import { rsaVerify } from "../../../src/wechat/pay/verifier";
import * as keys from "../../fixtures/keys";
import { type Answer, FakeWechat, PLATFORM1, PLATFORM2, PUBKEY, type RecordedCall, T0S, freshDb, publicKeyEnv, testConfig, testDeps } from "./support";

const PREPAY: JsapiPrepayRequest = {
  appid: keys.APPID,
  mchid: keys.MCHID,
  description: "咖啡 Coffee \\ \"quoted\" / slash",
  out_trade_no: "ORD_20261129_0001",
  time_expire: "2026-11-29T20:30:00+08:00",
  notify_url: keys.NOTIFY_URL,
  amount: { total: 1800, currency: "CNY" },
  payer: { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
};
const REFUND: RefundRequest = { out_trade_no: "ORD_20261129_0001", out_refund_no: "RF_0001", notify_url: keys.NOTIFY_URL, amount: { refund: 800, total: 1800, currency: "CNY" } };

async function setup(route: (c: RecordedCall) => Answer | Promise<Answer>, env: Record<string, string> = {}, timeoutMs?: number) {
  const fake = new FakeWechat(route);
  const deps = testDeps(fake.fetch);
  const db = await freshDb();
  const pay = createWechatPay({ config: testConfig(env), deps, db, certificateCache: createCertificateCache(), options: timeoutMs ? { timeoutMs } : {} });
  return { fake, deps, db, pay, port: pay.port };
}

/** Parses the Authorization header and checks its signature with the merchant PUBLIC key. */
async function checkAuthorization(call: RecordedCall): Promise<Record<string, string>> {
  const auth = call.headers.get("Authorization")!;
  expect(auth.startsWith("WECHATPAY2-SHA256-RSA2048 ")).toBe(true);
  const pairs = Object.fromEntries([...auth.slice(26).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  expect(Object.keys(pairs)).toEqual(["mchid", "nonce_str", "timestamp", "serial_no", "signature"]);
  const u = new URL(call.url);
  const message = `${call.method}\n${u.pathname}${u.search}\n${pairs.timestamp}\n${pairs.nonce_str}\n${call.body ?? ""}\n`;
  const ok = await rsaVerify(await importPublicKeyPem(keys.MERCHANT_PUBLIC_KEY), fromBase64(pairs.signature!)!, utf8(message));
  expect(ok, "Authorization signature verifies with the merchant public key").toBe(true);
  expect(pairs).toMatchObject({ mchid: keys.MCHID, serial_no: keys.MERCHANT_SERIAL, timestamp: String(T0S) });
  expect(pairs.nonce_str).toMatch(/^[0-9A-Za-z]{32}$/);
  return pairs;
}

describe("requests: signed exactly as sent (B)", () => {
  it("jsapiPrepay POSTs the JSON once-stringified, signs those bytes, sends the headers", async () => {
    const { fake, port } = await setup(() => ({ status: 200, body: '{"prepay_id":"wx201410272009395522657a690389285100"}' }));
    expect(await port.jsapiPrepay(PREPAY)).toEqual({ prepay_id: "wx201410272009395522657a690389285100" });
    const [call] = fake.calls.filter((c) => c.url.includes("/jsapi"));
    expect(call!.url).toBe("https://api.mch.weixin.qq.com/v3/pay/transactions/jsapi");
    expect(call!.method).toBe("POST");
    expect(call!.body).toBe(JSON.stringify(PREPAY));
    expect(call!.headers.get("Accept")).toBe("application/json");
    expect(call!.headers.get("Content-Type")).toBe("application/json");
    expect(call!.headers.get("User-Agent")).toMatch(/^wxpay-edge\//);
    expect(call!.headers.get("Wechatpay-Serial")).toBeNull();
    await checkAuthorization(call!);
  });

  it("GET query: the query is part of the signed URL and the body line is empty", async () => {
    const tx = { appid: keys.APPID, mchid: keys.MCHID, out_trade_no: "ORD|1*x", trade_state: "NOTPAY" };
    const { fake, port } = await setup(() => ({ status: 200, body: JSON.stringify(tx) }));
    expect(await port.queryByOutTradeNo("ORD|1*x")).toEqual(tx);
    const call = fake.calls.find((c) => c.url.includes("/out-trade-no/"))!;
    expect(call.method).toBe("GET");
    expect(new URL(call.url).search).toBe(`?mchid=${keys.MCHID}`);
    expect(call.url).toMatch(/\/v3\/pay\/transactions\/out-trade-no\/ORD%7C1\*x\?mchid=/);
    expect(call.body).toBeNull();
    expect(call.headers.get("Content-Type")).toBeNull();
    await checkAuthorization(call);
  });

  it("refund create/query and trade bill use WeChat's paths", async () => {
    const refund = { out_refund_no: "RF_0001", refund_id: "50000000382019052709732678859", status: "PROCESSING" };
    const link = { hash_type: "SHA1", hash_value: "79bb0f45fc4c42234a918000b2668d689e2bde04", download_url: "https://api.mch.weixin.qq.com/v3/billdownload/file?token=abc" };
    const { fake, port } = await setup((c) => ({ status: 200, body: JSON.stringify(c.url.includes("/bill/") ? link : refund) }));
    expect(await port.createRefund(REFUND)).toEqual(refund);
    expect(await port.queryRefund("RF_0001")).toEqual(refund);
    expect(await port.tradeBill("2026-11-28")).toEqual(link);
    expect(fake.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "POST https://api.mch.weixin.qq.com/v3/refund/domestic/refunds",
      "GET https://api.mch.weixin.qq.com/v3/certificates",
      "GET https://api.mch.weixin.qq.com/v3/refund/domestic/refunds/RF_0001",
      "GET https://api.mch.weixin.qq.com/v3/bill/tradebill?bill_date=2026-11-28&bill_type=ALL",
    ]);
    expect(fake.calls[0]!.body).toBe(JSON.stringify(REFUND));
    for (const c of fake.calls) await checkAuthorization(c);
  });

  it("downloadBill: signed GET of download_url (path + query signed), unsigned answer returned as bytes", async () => {
    const csv = "\uFEFF交易时间,公众账号ID\n`2019-02-19 05:01:46,`wxab8acd895ab1638a\n";
    const { fake, port } = await setup(() => ({ status: 200, body: csv, signer: null }));
    const bytes = await port.downloadBill("https://api.mch.weixin.qq.com/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO");
    expect(fromUtf8(bytes)).toBe(csv); // BOM kept: the bytes are returned untouched
    await checkAuthorization(fake.calls[0]!);
    expect(fake.calls).toHaveLength(1);
    await expect(port.downloadBill("https://evil.example.com/v3/billdownload/file?token=x")).rejects.toMatchObject({ code: "invalid_download_url" });
    expect(fake.calls).toHaveLength(1);
  });
});

describe("close: 204 with an empty body is verified over TS\\nNONCE\\n\\n (F.3)", () => {
  it("accepts a correctly signed empty 204 and sends {\"mchid\"}", async () => {
    const { fake, port } = await setup(() => ({ status: 204, body: "" }));
    await expect(port.closeOrder("ORD_1")).resolves.toBeUndefined();
    const call = fake.calls.find((c) => c.url.endsWith("/close"))!;
    expect(call.url).toBe("https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/ORD_1/close");
    expect(call.body).toBe(`{"mchid":"${keys.MCHID}"}`);
    await checkAuthorization(call);
  });
  it("an unsigned or wrongly signed 204 is IndeterminateError, never success", async () => {
    const unsigned = await setup(() => ({ status: 204, body: "", signer: null }));
    await expect(unsigned.port.closeOrder("ORD_1")).rejects.toBeInstanceOf(IndeterminateError);
    const wrong = await setup(() => ({ status: 204, body: "", headers: { "Wechatpay-Nonce": "another-nonce" } }));
    await expect(wrong.port.closeOrder("ORD_1")).rejects.toBeInstanceOf(IndeterminateError);
  });
});

describe("non-2xx: ApiError parsed without signatures (C.2, D.4)", () => {
  it("keeps status, code, message, detail and Request-ID; no retry for 4xx", async () => {
    const detail = { field: "/amount/total", value: 0, issue: "must be > 0", location: "body" };
    const { fake, port } = await setup(() => ({ status: 400, body: JSON.stringify({ code: "PARAM_ERROR", message: "参数错误", detail }), signer: null }));
    const err = await port.jsapiPrepay(PREPAY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: "PARAM_ERROR", wechatMessage: "参数错误", detail, requestId: "08F0A1B2C3-0000-TEST", retryable: false });
    expect(fake.calls).toHaveLength(1);
  });
  it("ORDER_CLOSED on close is an ApiError the domain can recognise; a non-JSON 403 gets HTTP_403", async () => {
    const closed = await setup(() => ({ status: 400, body: '{"code":"ORDER_CLOSED","message":"订单已关闭"}', signer: null }));
    await expect(closed.port.closeOrder("ORD_1")).rejects.toMatchObject({ name: "ApiError", code: "ORDER_CLOSED", status: 400 });
    const html = await setup(() => ({ status: 403, body: "<html>forbidden</html>", signer: null }));
    await expect(html.port.queryRefund("RF_1")).rejects.toMatchObject({ code: "HTTP_403", status: 403 });
  });
});

describe("retries: 5xx/429/network/timeout at most twice, same body bytes, then IndeterminateError", () => {
  const bodies = (calls: RecordedCall[]) => calls.filter((c) => c.url.endsWith("/jsapi")).map((c) => c.body);
  for (const [label, answer] of [
    ["500", { status: 500, body: '{"code":"SYSTEM_ERROR","message":"系统错误"}', signer: null }],
    ["503", { status: 503, body: "", signer: null }],
    ["429", { status: 429, body: '{"code":"FREQUENCY_LIMITED","message":"频率超限"}', signer: null }],
    ["network", "network"],
  ] as const) {
    it(`${label}: 3 attempts, 2 back-off sleeps, identical bodies, fresh signatures`, async () => {
      const { fake, deps, port } = await setup(() => answer as Answer);
      const err = await port.jsapiPrepay(PREPAY).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IndeterminateError);
      expect((err as WechatPayError).retryable).toBe(true);
      const sent = bodies(fake.calls);
      expect(sent).toHaveLength(3);
      expect(new Set(sent)).toEqual(new Set([JSON.stringify(PREPAY)]));
      expect(deps.sleeps).toHaveLength(2);
      const nonces = new Set<string>();
      for (const c of fake.calls) nonces.add((await checkAuthorization(c)).nonce_str!);
      expect(nonces.size).toBe(3);
    });
  }
  it("timeout per attempt (AbortSignal.timeout): 3 attempts then IndeterminateError with no status", async () => {
    const { fake, port } = await setup(() => "timeout", {}, 20);
    const err = await port.jsapiPrepay(PREPAY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IndeterminateError);
    expect((err as IndeterminateError).status).toBeNull();
    expect(fake.calls).toHaveLength(3);
  });
  it("recovers when a retry succeeds: 500, 500, then a verified 200", async () => {
    let n = 0;
    const { fake, port } = await setup(() => (++n < 3 ? { status: 500, body: "", signer: null } : { status: 200, body: '{"prepay_id":"wx_ok"}' }));
    expect(await port.jsapiPrepay(PREPAY)).toEqual({ prepay_id: "wx_ok" });
    expect(bodies(fake.calls)).toHaveLength(3);
  });
  it("a 4xx after an attempt without a known outcome (500, timeout) is marked afterUnknownAttempt: it does not prove the call did nothing", async () => {
    const refused = { status: 400, body: '{"code":"INVALID_REQUEST","message":"申请退款金额超过订单可退金额"}', signer: null } as const;
    for (const first of [{ status: 500, body: "", signer: null } as const, "network" as const]) {
      let n = 0;
      const { port } = await setup(() => (++n === 1 ? first : refused));
      await expect(port.createRefund(REFUND)).rejects.toMatchObject({ name: "ApiError", code: "INVALID_REQUEST", retryable: false, afterUnknownAttempt: true });
    }
    const { port } = await setup(() => refused);
    await expect(port.createRefund(REFUND)).rejects.toMatchObject({ code: "INVALID_REQUEST", afterUnknownAttempt: false });
  });
});

describe("an unverifiable 2xx is IndeterminateError, never trusted and not retried", () => {
  for (const [label, answer] of [
    ["unsigned", { status: 200, body: '{"prepay_id":"wx_forged"}', signer: null }],
    ["signed over another body", { status: 200, body: '{"prepay_id":"wx_forged"}', headers: { "Wechatpay-Signature": "" } }],
    ["SIGNTEST probe", { status: 200, body: '{"prepay_id":"wx_forged"}', headers: { "Wechatpay-Signature": "WECHATPAY/SIGNTEST/AAAA" } }],
    ["stale timestamp", { status: 200, body: '{"prepay_id":"wx_forged"}', headers: { "Wechatpay-Timestamp": String(T0S - 301) } }],
  ] as const) {
    it(label, async () => {
      const { fake, port } = await setup(() => answer as Answer);
      await expect(port.jsapiPrepay(PREPAY)).rejects.toBeInstanceOf(IndeterminateError);
      expect(fake.calls.filter((c) => c.url.endsWith("/jsapi"))).toHaveLength(1);
    });
  }
  it("a verified 200 without prepay_id is IndeterminateError too", async () => {
    const { port } = await setup(() => ({ status: 200, body: "{}" }));
    await expect(port.jsapiPrepay(PREPAY)).rejects.toBeInstanceOf(IndeterminateError);
  });
});

describe("public-key mode (C.5)", () => {
  it("sends Wechatpay-Serial: PUB_KEY_ID and verifies public-key-signed answers without downloading certificates", async () => {
    const { fake, port } = await setup(() => ({ status: 200, body: '{"prepay_id":"wx_pk"}', signer: PUBKEY }), publicKeyEnv);
    expect(await port.jsapiPrepay(PREPAY)).toEqual({ prepay_id: "wx_pk" });
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.headers.get("Wechatpay-Serial")).toBe(keys.PUBLIC_KEY_ID);
  });
  it("both modes mixed: certificate-signed answers still verify (one download) next to public-key ones", async () => {
    let n = 0;
    const { fake, port } = await setup(() => ({ status: 200, body: '{"prepay_id":"wx_mix"}', signer: [PUBKEY, PLATFORM1, PLATFORM2][n++ % 3]! }), publicKeyEnv);
    fake.certificates = [
      { serial: keys.PLATFORM1_SERIAL, pem: keys.PLATFORM1_CERTIFICATE },
      { serial: keys.PLATFORM2_SERIAL, pem: keys.PLATFORM2_CERTIFICATE },
    ];
    for (let i = 0; i < 6; i++) expect(await port.jsapiPrepay(PREPAY)).toEqual({ prepay_id: "wx_mix" });
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
  });
});

describe("logging", () => {
  it("logs Request-ID and status, never bodies, Authorization or signatures", async () => {
    const { fake, deps, port } = await setup(() => ({ status: 200, body: '{"prepay_id":"wx_secret_prepay"}' }));
    await port.jsapiPrepay(PREPAY);
    const all = deps.logs.join("\n");
    expect(all).toContain("08F0A1B2C3-0000-TEST");
    expect(all).toContain('"status":200');
    for (const c of fake.calls) {
      expect(all).not.toContain(c.headers.get("Authorization")!.slice(-40));
    }
    expect(all).not.toContain("wx_secret_prepay");
    expect(all).not.toContain("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    expect(all).not.toContain(PLATFORM1.privateKeyPem.slice(40, 80));
  });
});

/**
 * The simulator checked from the outside: every signature and ciphertext it produces is verified
 * here with WebCrypto directly (no simulator or Worker code), every rule it enforces is exercised.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/lib/clock";
import { fromBase64, pemToDer, toBase64 } from "../../src/lib/encoding";
import { seededRandom } from "../../src/lib/random";
import * as K from "../fixtures/keys";
import { createSimulator, RETRY_DELAYS_S, type Simulator, type SimulatorOptions } from "./index";
import { simulatorOptions } from "../support/world";

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0); // 20:00 in Shanghai
const BASE = "https://api.mch.weixin.qq.com";
const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const enc = new TextEncoder();

// --- independent crypto helpers (WebCrypto only) ------------------------------------------------
const keyCache = new Map<string, Promise<CryptoKey>>();
function privateKey(pem: string): Promise<CryptoKey> {
  if (!keyCache.has(pem)) keyCache.set(pem, crypto.subtle.importKey("pkcs8", pemToDer(pem, "PRIVATE KEY")!, RSA, true, ["sign"]));
  return keyCache.get(pem)!;
}
/** The public half of a PKCS#8 key, via JWK (so the test needs no X.509 parser). */
function publicOf(privatePem: string): Promise<CryptoKey> {
  const k = `pub:${privatePem}`;
  if (!keyCache.has(k)) {
    keyCache.set(
      k,
      (async () => {
        const jwk = (await crypto.subtle.exportKey("jwk", await privateKey(privatePem))) as JsonWebKey;
        return crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256", ext: true }, RSA, true, ["verify"]);
      })(),
    );
  }
  return keyCache.get(k)!;
}
async function sign(privatePem: string, message: string): Promise<string> {
  return toBase64(await crypto.subtle.sign(RSA, await privateKey(privatePem), enc.encode(message)));
}
async function verify(key: CryptoKey, message: string, sig: string): Promise<boolean> {
  const b = fromBase64(sig);
  return !!b && crypto.subtle.verify(RSA, key, b, enc.encode(message));
}
async function gcmDecrypt(key: string, nonce: string, aad: string, ct: string): Promise<string> {
  const k = await crypto.subtle.importKey("raw", enc.encode(key), "AES-GCM", false, ["decrypt"]);
  const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: enc.encode(nonce), additionalData: enc.encode(aad) }, k, fromBase64(ct)!);
  return new TextDecoder().decode(pt);
}
const KEY_BY_SERIAL: Record<string, string> = {
  [K.PLATFORM1_SERIAL]: K.PLATFORM1_PRIVATE_KEY,
  [K.PLATFORM2_SERIAL]: K.PLATFORM2_PRIVATE_KEY,
  [K.PUBLIC_KEY_ID]: K.PUBLIC_KEY_PRIVATE,
};
/** Verifies WeChat-style signature headers over `TS\nNONCE\nBODY\n`. */
async function verifySigned(headers: Headers, body: string): Promise<boolean> {
  const serial = headers.get("wechatpay-serial")!;
  const pem = KEY_BY_SERIAL[serial];
  if (!pem || headers.get("wechatpay-signature-type") !== "WECHATPAY2-SHA256-RSA2048") return false;
  const ts = headers.get("wechatpay-timestamp")!;
  const nonce = headers.get("wechatpay-nonce")!;
  return verify(await publicOf(pem), `${ts}\n${nonce}\n${body}\n`, headers.get("wechatpay-signature") ?? "");
}

// --- a merchant client written for the test ------------------------------------------------------
interface SignOpts {
  ts?: number;
  mchid?: string;
  serial?: string;
  key?: string;
  headers?: Record<string, string>;
  tamperBody?: boolean;
  signal?: AbortSignal;
}
async function call(sim: Simulator, clock: FakeClock, method: string, pathQuery: string, body?: unknown, o: SignOpts = {}) {
  const text = body === undefined ? "" : JSON.stringify(body);
  const ts = o.ts ?? Math.floor(clock.now() / 1000);
  const nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
  const signature = await sign(o.key ?? K.MERCHANT_PRIVATE_KEY, `${method}\n${pathQuery}\n${ts}\n${nonce}\n${text}\n`);
  const auth = `WECHATPAY2-SHA256-RSA2048 mchid="${o.mchid ?? K.MCHID}",nonce_str="${nonce}",timestamp="${ts}",serial_no="${o.serial ?? K.MERCHANT_SERIAL}",signature="${signature}"`;
  const res = await sim.fetch(`${BASE}${pathQuery}`, {
    method,
    headers: { authorization: auth, accept: "application/json", "content-type": "application/json", ...o.headers },
    body: method === "GET" ? null : o.tamperBody ? `${text} ` : text,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const raw = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true }).decode(await res.arrayBuffer());
  const isJson = res.headers.get("content-type")?.includes("json");
  return { res, raw, json: raw && isJson ? (JSON.parse(raw) as Record<string, any>) : null, signed: await verifySigned(res.headers, raw) };
}

async function signedHeaders(clock: FakeClock, method: string, pathQuery: string): Promise<Record<string, string>> {
  const ts = Math.floor(clock.now() / 1000);
  const signature = await sign(K.MERCHANT_PRIVATE_KEY, `${method}\n${pathQuery}\n${ts}\nN0NCE\n\n`);
  return { authorization: `WECHATPAY2-SHA256-RSA2048 mchid="${K.MCHID}",nonce_str="N0NCE",timestamp="${ts}",serial_no="${K.MERCHANT_SERIAL}",signature="${signature}"` };
}

interface Delivered {
  req: Request;
  body: string;
}
function setup(over: Partial<SimulatorOptions> = {}, answer: (d: Delivered) => number = () => 204) {
  const clock = new FakeClock(T0);
  const received: Delivered[] = [];
  const sim = createSimulator(
    simulatorOptions(clock, {
      signWith: "certificate",
      random: seededRandom(7),
      deliver: async (req) => {
        const d = { req, body: await req.text() };
        received.push(d);
        return new Response(null, { status: answer(d) });
      },
      ...over,
    }),
  );
  return { sim, clock, received };
}

let outNo = 0;
const newOutTradeNo = () => `T${Date.now().toString(36)}${++outNo}`;
function prepayBody(openid: string, o: Record<string, unknown> = {}) {
  return {
    appid: K.APPID,
    mchid: K.MCHID,
    description: "咖啡 x1",
    out_trade_no: newOutTradeNo(),
    time_expire: "2026-11-29T20:30:00+08:00",
    notify_url: K.NOTIFY_URL,
    amount: { total: 1200, currency: "CNY" },
    payer: { openid },
    ...o,
  };
}
async function paymentFor(prepayId: string, o: { ts?: string; appid?: string; key?: string } = {}) {
  const timeStamp = o.ts ?? String(Math.floor(T0 / 1000));
  const nonceStr = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
  const pkg = `prepay_id=${prepayId}`;
  const paySign = await sign(o.key ?? K.MERCHANT_PRIVATE_KEY, `${o.appid ?? K.APPID}\n${timeStamp}\n${nonceStr}\n${pkg}\n`);
  return { timeStamp, nonceStr, package: pkg, signType: "RSA", paySign };
}
/** A user, an order and its prepay_id. */
async function order(s: ReturnType<typeof setup>, o: Record<string, unknown> = {}) {
  const { openid } = s.sim.mintCode();
  const body = prepayBody(openid, o);
  const r = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", body);
  expect(r.res.status).toBe(200);
  return { openid, body, prepayId: r.json!.prepay_id as string, outTradeNo: body.out_trade_no };
}
async function paidOrder(s: ReturnType<typeof setup>, o: Record<string, unknown> = {}) {
  const x = await order(s, o);
  const r = await s.sim.pay(await paymentFor(x.prepayId), { openid: x.openid });
  expect(r.errMsg).toBe("requestPayment:ok");
  return { ...x, transactionId: r.transactionId! };
}
async function decryptNotification(d: Delivered) {
  const env = JSON.parse(d.body);
  const plain = await gcmDecrypt(K.APIV3_KEY, env.resource.nonce, env.resource.associated_data, env.resource.ciphertext);
  return { env, resource: JSON.parse(plain) };
}

// --------------------------------------------------------------------------------------------------
describe("own crypto", () => {
  it("AEAD_AES_256_GCM matches the wechatpay-java vector", async () => {
    const { aesGcmEncrypt } = await import("./crypto");
    expect(await aesGcmEncrypt("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", "uluk4a9R25RW", "associatedData", "message")).toBe("ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=");
  });
});

describe("merchant request signatures (B)", () => {
  const s = setup();
  const path = "/v3/pay/transactions/out-trade-no/NOPE123456?mchid=" + K.MCHID;
  it("accepts a correctly signed request", async () => {
    const r = await call(s.sim, s.clock, "GET", path);
    expect(r.res.status).toBe(404);
    expect(r.json).toMatchObject({ code: "ORDER_NOT_EXIST" });
    expect(r.res.headers.get("wechatpay-signature")).toBeNull(); // errors are not signed
    expect(r.res.headers.get("request-id")).toBeTruthy();
  });
  it.each([
    ["wrong mchid", { mchid: "1900000001" }],
    ["wrong serial", { serial: K.PLATFORM1_SERIAL }],
    ["stale timestamp", { ts: Math.floor(T0 / 1000) - 301 }],
    ["future timestamp", { ts: Math.floor(T0 / 1000) + 301 }],
    ["wrong key", { key: K.PLATFORM1_PRIVATE_KEY }],
  ] as [string, SignOpts][])("401 SIGN_ERROR for %s", async (_n, o) => {
    const r = await call(s.sim, s.clock, "GET", path, undefined, o);
    expect(r.res.status).toBe(401);
    expect(r.json!.code).toBe("SIGN_ERROR");
  });
  it("401 for a body that differs from the signed one, and for no Authorization", async () => {
    const r = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", prepayBody("x"), { tamperBody: true });
    expect(r.res.status).toBe(401);
    const bare = await s.sim.fetch(`${BASE}${path}`);
    expect(bare.status).toBe(401);
  });
  it("accepts a skew of exactly 300 s", async () => {
    const r = await call(s.sim, s.clock, "GET", path, undefined, { ts: Math.floor(T0 / 1000) - 300 });
    expect(r.res.status).toBe(404);
  });
});

describe("login (A.2)", () => {
  const s = setup();
  const url = (code: string, o: Record<string, string> = {}) => {
    const q = new URLSearchParams({ appid: K.APPID, secret: K.APPSECRET, js_code: code, grant_type: "authorization_code", ...o });
    return `https://api.weixin.qq.com/sns/jscode2session?${q}`;
  };
  const get = async (u: string) => (await s.sim.fetch(u)).json() as Promise<Record<string, any>>;
  beforeEach(() => s.sim.clearFaults());

  it("a code works once, gives openid, unionid and a 16-byte session_key", async () => {
    const { code, openid } = s.sim.mintCode({ openid: "oUser1", unionid: "uUnion1" });
    expect(openid).toBe("oUser1");
    const r = await get(url(code));
    expect(r).toMatchObject({ openid: "oUser1", unionid: "uUnion1" });
    expect(fromBase64(r.session_key)!.length).toBe(16);
    expect(await get(url(code))).toMatchObject({ errcode: 40163 });
  });
  it("unknown and expired codes are 40029; bad appid 40013, bad secret 40125", async () => {
    expect(await get(url("nope"))).toMatchObject({ errcode: 40029 });
    const { code } = s.sim.mintCode();
    s.clock.advance(5 * 60_000 + 1);
    expect(await get(url(code))).toMatchObject({ errcode: 40029 });
    const fresh = s.sim.mintCode().code;
    expect(await get(url(fresh, { appid: "wx0000000000000000" }))).toMatchObject({ errcode: 40013 });
    expect(await get(url(fresh, { secret: "wrong" }))).toMatchObject({ errcode: 40125 });
    expect((await get(url(fresh))).openid).toBeTruthy();
  });
  it.each([-1, 45011, 40226])("forced errcode %i, without consuming the code", async (errcode) => {
    const { code } = s.sim.mintCode();
    s.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "errcode", errcode });
    expect(await get(url(code))).toMatchObject({ errcode });
    expect((await get(url(code))).openid).toBeTruthy();
  });
  it("5xx, non-JSON and slow answers", async () => {
    s.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "status", status: 502 });
    expect((await s.sim.fetch(url("x"))).status).toBe(502);
    s.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "nonJson" });
    const res = await s.sim.fetch(url("x"));
    await expect(res.clone().json()).rejects.toThrow();
    s.sim.addFault({ target: "api", path: "/sns/jscode2session", kind: "delay", ms: 60 });
    const t = Date.now();
    await s.sim.fetch(url("x"));
    expect(Date.now() - t).toBeGreaterThanOrEqual(50);
  });
});

describe("JSAPI prepay (D)", () => {
  const s = setup();
  it("answers a signed prepay_id; identical parameters give a prepay_id again", async () => {
    const { openid } = s.sim.mintCode();
    const body = prepayBody(openid);
    const a = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", body);
    expect(a.res.status).toBe(200);
    expect(a.signed).toBe(true);
    expect(a.res.headers.get("wechatpay-serial")).toBe(K.PLATFORM1_SERIAL);
    expect(a.json!.prepay_id).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
    const reordered = { ...Object.fromEntries(Object.entries(body).reverse()), amount: { currency: "CNY", total: 1200 } };
    const b = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", reordered);
    expect(b.res.status).toBe(200);
    expect(b.json!.prepay_id).toBe(a.json!.prepay_id);
    s.clock.advance(2 * 3600_000);
    // past time_expire now
    const c = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", body);
    expect(c.json!.code).toBe("ORDER_CLOSED");
    s.clock.set(T0);
  });
  it("the same out_trade_no with any other parameter is 403 OUT_TRADE_NO_USED", async () => {
    const { openid } = s.sim.mintCode();
    const body = prepayBody(openid);
    await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", body);
    for (const change of [{ amount: { total: 1201, currency: "CNY" } }, { description: "other" }, { time_expire: "2026-11-29T20:31:00+08:00" }]) {
      const r = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", { ...body, ...change });
      expect(r.res.status).toBe(403);
      expect(r.json!.code).toBe("OUT_TRADE_NO_USED");
    }
  });
  it.each([
    ["appid", { appid: "wx0000000000000000" }, 400, "APPID_MCHID_NOT_MATCH"],
    ["mchid in body", { mchid: "1900000001" }, 400, "PARAM_ERROR"],
    ["empty description", { description: "" }, 400, "PARAM_ERROR"],
    ["128-char description", { description: "x".repeat(128) }, 400, "PARAM_ERROR"],
    ["short out_trade_no", { out_trade_no: "abc" }, 400, "PARAM_ERROR"],
    ["out_trade_no charset", { out_trade_no: "abc.def.ghi" }, 400, "PARAM_ERROR"],
    ["time_expire not RFC 3339", { time_expire: "2026-11-29 20:30:00" }, 400, "PARAM_ERROR"],
    ["notify_url with query", { notify_url: "https://m.example.com/notify?x=1" }, 400, "PARAM_ERROR"],
    ["notify_url http", { notify_url: "http://m.example.com/notify" }, 400, "PARAM_ERROR"],
    ["amount 0", { amount: { total: 0, currency: "CNY" } }, 400, "PARAM_ERROR"],
    ["amount fraction", { amount: { total: 1.5, currency: "CNY" } }, 400, "PARAM_ERROR"],
    ["currency", { amount: { total: 1, currency: "USD" } }, 400, "PARAM_ERROR"],
    ["unknown openid", { payer: { openid: "oNeverMinted" } }, 400, "PARAM_ERROR"],
  ])("rejects %s", async (_n, change, status, code) => {
    const { openid } = s.sim.mintCode();
    const r = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", { ...prepayBody(openid), ...change });
    expect(r.res.status).toBe(status);
    expect(r.json!.code).toBe(code);
  });
  it("allows http://localhost and http://127.0.0.1 notify URLs, Z time_expire", async () => {
    const { openid } = s.sim.mintCode();
    for (const notify_url of ["http://localhost:8787/v1/pay/notify", "http://127.0.0.1:8787/v1/pay/notify"]) {
      const r = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", prepayBody(openid, { notify_url, time_expire: "2026-11-29T12:30:00Z" }));
      expect(r.res.status).toBe(200);
    }
  });
});

describe("query, close, user pays (E, F)", () => {
  const s = setup();
  it("NOTPAY → pay → SUCCESS with transaction_id and success_time", async () => {
    const x = await order(s);
    const q = `/v3/pay/transactions/out-trade-no/${x.outTradeNo}?mchid=${K.MCHID}`;
    const before = await call(s.sim, s.clock, "GET", q);
    expect(before.signed).toBe(true);
    expect(before.json).toMatchObject({ trade_state: "NOTPAY", amount: { total: 1200 }, payer: { openid: x.openid } });
    expect(before.json!.transaction_id).toBeUndefined();
    s.clock.advance(1000);
    const r = await s.sim.pay(await paymentFor(x.prepayId), { openid: x.openid });
    expect(r).toMatchObject({ ok: true, errMsg: "requestPayment:ok" });
    const after = await call(s.sim, s.clock, "GET", q);
    expect(after.json).toMatchObject({
      appid: K.APPID,
      mchid: K.MCHID,
      out_trade_no: x.outTradeNo,
      transaction_id: r.transactionId,
      trade_type: "JSAPI",
      trade_state: "SUCCESS",
      success_time: "2026-11-29T20:00:01+08:00",
      amount: { total: 1200, payer_total: 1200, currency: "CNY", payer_currency: "CNY" },
    });
    const byId = await call(s.sim, s.clock, "GET", `/v3/pay/transactions/id/${r.transactionId}?mchid=${K.MCHID}`);
    expect(byId.json!.out_trade_no).toBe(x.outTradeNo);
    // paid: close → ORDER_PAID, prepay again → ORDER_PAID, pay again fails
    const close = await call(s.sim, s.clock, "POST", `/v3/pay/transactions/out-trade-no/${x.outTradeNo}/close`, { mchid: K.MCHID });
    expect(close.json!.code).toBe("ORDER_PAID");
    expect((await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", x.body)).json!.code).toBe("ORDER_PAID");
    expect((await s.sim.pay(await paymentFor(x.prepayId))).ok).toBe(false);
  });
  it("close → signed 204 with an empty body; again → ORDER_CLOSED; closed orders cannot be paid", async () => {
    const x = await order(s);
    const path = `/v3/pay/transactions/out-trade-no/${x.outTradeNo}/close`;
    const a = await call(s.sim, s.clock, "POST", path, { mchid: K.MCHID });
    expect(a.res.status).toBe(204);
    expect(a.raw).toBe("");
    expect(a.signed).toBe(true);
    const b = await call(s.sim, s.clock, "POST", path, { mchid: K.MCHID });
    expect([b.res.status, b.json!.code]).toEqual([400, "ORDER_CLOSED"]);
    expect((await s.sim.pay(await paymentFor(x.prepayId))).errMsg).toMatch(/fail/);
    expect((await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", x.body)).json!.code).toBe("ORDER_CLOSED");
    const missing = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/out-trade-no/NOSUCH123/close", { mchid: K.MCHID });
    expect(missing.res.status).toBe(404);
  });
  it("paySign is verified exactly like wx.requestPayment", async () => {
    const x = await order(s);
    const good = await paymentFor(x.prepayId);
    const bad = [
      { ...good, paySign: good.paySign.replace(/^./, (c) => (c === "A" ? "B" : "A")) },
      { ...good, nonceStr: "other" },
      { ...good, signType: "HMAC-SHA256" },
      await paymentFor(x.prepayId, { ts: String(T0) }), // milliseconds
      await paymentFor(x.prepayId, { appid: "wx0000000000000000" }),
      await paymentFor(x.prepayId, { key: K.PLATFORM1_PRIVATE_KEY }),
      await paymentFor("wx_unknown"),
    ];
    for (const p of bad) expect((await s.sim.pay(p)).ok).toBe(false);
    expect((await s.sim.pay(good, { openid: "oSomeoneElse" })).ok).toBe(false);
    expect(s.sim.cancel()).toEqual({ ok: false, errMsg: "requestPayment:fail cancel" });
    expect(s.sim.getTransaction(x.outTradeNo)!.state).toBe("NOTPAY");
    expect((await s.sim.pay(good)).ok).toBe(true);
  });
  it("a prepay_id older than 2 h cannot be paid", async () => {
    const x = await order(s, { time_expire: "2026-11-30T20:00:00+08:00" });
    s.clock.advance(2 * 3600_000);
    expect((await s.sim.pay(await paymentFor(x.prepayId))).errMsg).toMatch(/prepay_id/);
    s.clock.set(T0);
  });
});

describe("notifications (G)", () => {
  it("TRANSACTION.SUCCESS: encrypted with the APIv3 key, signed, delivered to notify_url", async () => {
    const s = setup();
    const x = await paidOrder(s);
    expect(s.received).toHaveLength(0); // manual mode
    await s.sim.flush();
    expect(s.received).toHaveLength(1);
    const d = s.received[0]!;
    expect(d.req.url).toBe(K.NOTIFY_URL);
    expect(await verifySigned(d.req.headers, d.body)).toBe(true);
    expect(d.req.headers.get("wechatpay-serial")).toBe(K.PLATFORM1_SERIAL);
    const { env, resource } = await decryptNotification(d);
    expect(env).toMatchObject({
      id: expect.stringMatching(/^EV-/),
      create_time: "2026-11-29T20:00:00+08:00",
      resource_type: "encrypt-resource",
      event_type: "TRANSACTION.SUCCESS",
      resource: { original_type: "transaction", algorithm: "AEAD_AES_256_GCM", associated_data: "transaction" },
    });
    expect(env.resource.nonce).toHaveLength(12);
    expect(resource).toMatchObject({
      appid: K.APPID,
      mchid: K.MCHID,
      out_trade_no: x.outTradeNo,
      transaction_id: x.transactionId,
      trade_state: "SUCCESS",
      payer: { openid: x.openid },
      amount: { total: 1200, payer_total: 1200 },
    });
    expect(s.sim.deliveries).toMatchObject([{ attempt: 1, status: 204 }]);
    expect(s.sim.stats().notificationsDelivered).toBe(1);
  });

  it("retries on WeChat's schedule with a fake clock, then gives up after 16 attempts", async () => {
    const s = setup({}, () => 500);
    await paidOrder(s);
    await s.sim.deliverDue();
    expect(s.received).toHaveLength(1);
    for (let i = 0; i < RETRY_DELAYS_S.length; i++) {
      s.clock.advance(RETRY_DELAYS_S[i]! * 1000 - 1);
      await s.sim.deliverDue();
      expect(s.received).toHaveLength(i + 1);
      s.clock.advance(1);
      await s.sim.deliverDue();
      expect(s.received).toHaveLength(i + 2);
    }
    expect(s.clock.now() - T0).toBe((24 * 60 + 4) * 60_000);
    expect(s.sim.notifications[0]!.state).toBe("exhausted");
    s.clock.advance(86_400_000);
    await s.sim.deliverDue();
    expect(s.received).toHaveLength(16);
    // each attempt is signed afresh
    expect(await verifySigned(s.received[15]!.req.headers, s.received[15]!.body)).toBe(true);
  });

  it("with timeScale > 0 it delivers and retries by itself on real timers", async () => {
    let n = 0;
    const s = setup({ timeScale: 0.001 }, () => (++n === 1 ? 500 : 204)); // 15 s → 15 ms
    await paidOrder(s);
    for (let i = 0; i < 100 && s.sim.deliveries.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.sim.deliveries.map((d) => d.status)).toEqual([500, 204]);
    expect(s.sim.notifications[0]!.state).toBe("delivered");
  });

  it("a delivery error or a slow answer counts as failure and is retried", async () => {
    let n = 0;
    const s = setup({
      notifyTimeoutMs: 30,
      deliver: async () => {
        n++;
        if (n === 1) throw new TypeError("connection refused");
        if (n === 2) await new Promise((r) => setTimeout(r, 200));
        return new Response(null, { status: 200 });
      },
    });
    await paidOrder(s);
    await s.sim.flush();
    expect(s.sim.deliveries.map((d) => d.status)).toEqual(["error", "timeout", 200]);
  });

  it("public-key mode, and a mixed rollout signing some notifications each way", async () => {
    const s = setup({ signWith: "publicKey" });
    await paidOrder(s);
    await s.sim.flush();
    expect(s.received[0]!.req.headers.get("wechatpay-serial")).toBe(K.PUBLIC_KEY_ID);
    expect(await verifySigned(s.received[0]!.req.headers, s.received[0]!.body)).toBe(true);
    s.sim.setSigning({ publicKeyRatio: 0.5 });
    for (let i = 0; i < 12; i++) await paidOrder(s);
    await s.sim.flush();
    const serials = new Set(s.received.slice(1).map((d) => d.req.headers.get("wechatpay-serial")));
    expect(serials).toEqual(new Set([K.PUBLIC_KEY_ID, K.PLATFORM1_SERIAL]));
    for (const d of s.received) expect(await verifySigned(d.req.headers, d.body)).toBe(true);
  });
});

describe("notification faults", () => {
  it("drop: never delivered", async () => {
    const s = setup();
    s.sim.addFault({ target: "notify", kind: "drop" });
    await paidOrder(s);
    await paidOrder(s);
    await s.sim.flush();
    expect(s.received).toHaveLength(1);
    expect(s.sim.deliveries[0]!.status).toBe("dropped");
  });
  it("duplicate: N identical copies, concurrently", async () => {
    let inFlight = 0;
    let peak = 0;
    const s = setup({
      deliver: async (req) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await req.text();
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return new Response(null, { status: 204 });
      },
    });
    s.sim.addFault({ target: "notify", kind: "duplicate", copies: 20, concurrent: true });
    await paidOrder(s);
    await s.sim.flush();
    expect(s.sim.deliveries).toHaveLength(20);
    expect(peak).toBe(20);
  });
  it("delay: the first attempt waits", async () => {
    const s = setup();
    s.sim.addFault({ target: "notify", kind: "delay", ms: 60_000 });
    await paidOrder(s);
    await s.sim.deliverDue();
    expect(s.received).toHaveLength(0);
    s.clock.advance(60_000);
    await s.sim.deliverDue();
    expect(s.received).toHaveLength(1);
  });
  it("reorder: the next N notifications arrive newest first", async () => {
    const s = setup();
    s.sim.addFault({ target: "notify", kind: "reorder", count: 3 });
    const nos = [(await paidOrder(s)).outTradeNo, (await paidOrder(s)).outTradeNo, (await paidOrder(s)).outTradeNo];
    await s.sim.deliverDue();
    const got = await Promise.all(s.received.map(async (d) => (await decryptNotification(d)).resource.out_trade_no));
    expect(got).toEqual(nos.reverse());
  });
  it.each(["body", "signature", "timestamp", "nonce", "serial", "stale", "future", "signtest"] as const)(
    "corrupt %s: fails an independent check; the retry is clean",
    async (what) => {
      const s = setup({}, (d) => (d.req.headers.get("wechatpay-signature")!.startsWith("WECHATPAY/") ? 401 : 204));
      if (what === "signtest") s.sim.addFault({ target: "notify", kind: "signtest" });
      else s.sim.addFault({ target: "notify", kind: "corrupt", what });
      await paidOrder(s);
      await s.sim.flush();
      const [bad, good] = s.received;
      const h = bad!.req.headers;
      const ts = Number(h.get("wechatpay-timestamp"));
      const ok = (await verifySigned(h, bad!.body)) && Math.abs(ts - T0 / 1000) <= 300;
      expect(ok).toBe(false);
      if (what === "signtest") {
        expect(h.get("wechatpay-signature")).toMatch(/^WECHATPAY\/SIGNTEST\//);
        expect(await verifySigned(good!.req.headers, good!.body)).toBe(true);
      }
    },
  );
  it.each(["ciphertext", "aad", "algorithm"] as const)("corrupt %s: signed correctly but the resource is unusable", async (what) => {
    const s = setup();
    s.sim.addFault({ target: "notify", kind: "corrupt", what });
    await paidOrder(s);
    await s.sim.flush();
    const d = s.received[0]!;
    expect(await verifySigned(d.req.headers, d.body)).toBe(true);
    if (what === "algorithm") expect(JSON.parse(d.body).resource.algorithm).not.toBe("AEAD_AES_256_GCM");
    else await expect(decryptNotification(d)).rejects.toThrow();
  });
});

describe("API faults", () => {
  const s = setup();
  const q = (no: string) => `/v3/pay/transactions/out-trade-no/${no}?mchid=${K.MCHID}`;
  beforeEach(() => s.sim.clearFaults());
  it("500 SYSTEM_ERROR and 429 FREQUENCY_LIMITED for the next N calls, unsigned", async () => {
    s.sim.addFault({ target: "api", path: "/v3/pay/transactions/out-trade-no/*", kind: "systemError", count: 2 });
    expect((await call(s.sim, s.clock, "GET", q("ABCDEF1"))).res.status).toBe(500);
    const second = await call(s.sim, s.clock, "GET", q("ABCDEF1"));
    expect([second.res.status, second.json!.code, second.signed]).toEqual([500, "SYSTEM_ERROR", false]);
    expect((await call(s.sim, s.clock, "GET", q("ABCDEF1"))).res.status).toBe(404);
    s.sim.addFault({ target: "api", path: "*", method: "GET", kind: "frequencyLimited" });
    expect((await call(s.sim, s.clock, "GET", q("ABCDEF1"))).json!.code).toBe("FREQUENCY_LIMITED");
  });
  it("timeout: hangs until the caller aborts; applied: the prepay took effect", async () => {
    const { openid } = s.sim.mintCode();
    const body = prepayBody(openid);
    s.sim.addFault({ target: "api", path: "/v3/pay/transactions/jsapi", kind: "timeout", applied: true });
    const t = Date.now();
    await expect(call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", body, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    expect(Date.now() - t).toBeLessThan(5000);
    expect(s.sim.getTransaction(body.out_trade_no)?.state).toBe("NOTPAY");
    const retry = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", body);
    expect(retry.res.status).toBe(200);
  });
  it("applyThenDrop: the refund takes effect, its answer is lost (500 or a dropped connection); with repeat, the next call gets that 4xx", async () => {
    const x = await paidOrder(s);
    const path = "/v3/refund/domestic/refunds";
    const body = { out_trade_no: x.outTradeNo, out_refund_no: `LA${x.outTradeNo}`, amount: { refund: 100, total: 1200, currency: "CNY" } };
    s.sim.addFault({ target: "api", path, method: "POST", kind: "applyThenDrop", answer: "systemError", repeat: { status: 400, code: "INVALID_REQUEST", message: "重复退款" } });
    const lost = await call(s.sim, s.clock, "POST", path, body);
    expect([lost.res.status, lost.json!.code]).toEqual([500, "SYSTEM_ERROR"]);
    expect(s.sim.getRefund(body.out_refund_no)).toMatchObject({ refund: 100, status: "PROCESSING" });
    const repeat = await call(s.sim, s.clock, "POST", path, body);
    expect([repeat.res.status, repeat.json!.code, repeat.json!.message]).toEqual([400, "INVALID_REQUEST", "重复退款"]);
    expect((await call(s.sim, s.clock, "POST", path, body)).json).toMatchObject({ out_refund_no: body.out_refund_no, status: "PROCESSING" });
    expect(s.sim.listRefunds().filter((r) => r.outTradeNo === x.outTradeNo)).toHaveLength(1);

    const second = { ...body, out_refund_no: `LB${x.outTradeNo}` };
    s.sim.addFault({ target: "api", path, method: "POST", kind: "applyThenDrop", ms: 10 });
    await expect(call(s.sim, s.clock, "POST", path, second)).rejects.toThrow(/connection dropped/);
    expect(s.sim.getRefund(second.out_refund_no)).toMatchObject({ refund: 100 });
    expect(() => s.sim.addFault({ target: "api", path, kind: "applyThenDrop", repeat: { status: 500 } })).toThrow(/4xx/);
  });
  it("timeout with a delay drops the connection", async () => {
    s.sim.addFault({ target: "api", path: "*", kind: "timeout", ms: 10 });
    await expect(call(s.sim, s.clock, "GET", q("ABCDEF1"))).rejects.toThrow(/connection dropped/);
  });
  it("bad response signature", async () => {
    const x = await order(s);
    s.sim.addFault({ target: "api", path: "/v3/pay/transactions/out-trade-no/*", kind: "badSignature" });
    const r = await call(s.sim, s.clock, "GET", q(x.outTradeNo));
    expect([r.res.status, r.signed]).toEqual([200, false]);
    expect((await call(s.sim, s.clock, "GET", q(x.outTradeNo))).signed).toBe(true);
  });
  it("by probability with a seeded random", async () => {
    s.sim.addFault({ target: "api", path: "/v3/pay/transactions/out-trade-no/*", kind: "systemError", probability: 0.05 });
    let failed = 0;
    for (let i = 0; i < 200; i++) if ((await call(s.sim, s.clock, "GET", q("ABCDEF1"))).res.status === 500) failed++;
    expect(failed).toBeGreaterThan(2);
    expect(failed).toBeLessThan(25);
    expect(s.sim.listFaults()[0]!.hits).toBe(failed);
  });
});

describe("keys: response signing modes, certificates, rotation (C.5)", () => {
  it("answers with the public key when the request names PUB_KEY_ID, and can be forced", async () => {
    const s = setup();
    const x = await order(s);
    const path = `/v3/pay/transactions/out-trade-no/${x.outTradeNo}?mchid=${K.MCHID}`;
    const pk = await call(s.sim, s.clock, "GET", path, undefined, { headers: { "wechatpay-serial": K.PUBLIC_KEY_ID } });
    expect([pk.res.headers.get("wechatpay-serial"), pk.signed]).toEqual([K.PUBLIC_KEY_ID, true]);
    s.sim.setSigning({ responses: "publicKey" });
    expect((await call(s.sim, s.clock, "GET", path)).res.headers.get("wechatpay-serial")).toBe(K.PUBLIC_KEY_ID);
    s.sim.setSigning({ responses: "certificate" });
    const c = await call(s.sim, s.clock, "GET", path, undefined, { headers: { "wechatpay-serial": K.PUBLIC_KEY_ID } });
    expect(c.res.headers.get("wechatpay-serial")).toBe(K.PLATFORM1_SERIAL);
  });
  it("/v3/certificates decrypts to the certificates; rotation switches the signer", async () => {
    const s = setup();
    s.sim.addCertificate({ serial: K.PLATFORM2_SERIAL, privateKeyPem: K.PLATFORM2_PRIVATE_KEY, certificatePem: K.PLATFORM2_CERTIFICATE });
    const r = await call(s.sim, s.clock, "GET", "/v3/certificates");
    expect(r.signed).toBe(true);
    const data = r.json!.data as any[];
    expect(data.map((d) => d.serial_no)).toEqual([K.PLATFORM1_SERIAL, K.PLATFORM2_SERIAL]);
    for (const d of data) {
      expect(d.effective_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
      expect(d.encrypt_certificate).toMatchObject({ algorithm: "AEAD_AES_256_GCM", associated_data: "certificate" });
      const pem = await gcmDecrypt(K.APIV3_KEY, d.encrypt_certificate.nonce, "certificate", d.encrypt_certificate.ciphertext);
      expect(pem).toBe(d.serial_no === K.PLATFORM1_SERIAL ? K.PLATFORM1_CERTIFICATE : K.PLATFORM2_CERTIFICATE);
    }
    s.sim.useCertificate(K.PLATFORM2_SERIAL);
    const after = await call(s.sim, s.clock, "GET", "/v3/certificates");
    expect([after.res.headers.get("wechatpay-serial"), after.signed]).toEqual([K.PLATFORM2_SERIAL, true]);
  });
  it("a public-key-only merchant gets 404 RESOURCE_NOT_EXISTS and public-key answers", async () => {
    const s = setup({
      platform: { certificates: [], publicKey: { id: K.PUBLIC_KEY_ID, privateKeyPem: K.PUBLIC_KEY_PRIVATE, publicKeyPem: K.PUBLIC_KEY_PEM } },
      signWith: "publicKey",
    });
    const r = await call(s.sim, s.clock, "GET", "/v3/certificates");
    expect([r.res.status, r.json!.code]).toEqual([404, "RESOURCE_NOT_EXISTS"]);
    const x = await order(s);
    const q = await call(s.sim, s.clock, "GET", `/v3/pay/transactions/out-trade-no/${x.outTradeNo}?mchid=${K.MCHID}`);
    expect([q.res.headers.get("wechatpay-serial"), q.signed]).toEqual([K.PUBLIC_KEY_ID, true]);
  });
});

describe("refunds (H)", () => {
  const s = setup();
  const refund = (b: Record<string, unknown>) => call(s.sim, s.clock, "POST", "/v3/refund/domestic/refunds", b);
  it("create, repeat, limits, settle with a refund notification, trade_state REFUND", async () => {
    const x = await paidOrder(s);
    const base = { out_trade_no: x.outTradeNo, notify_url: K.NOTIFY_URL, amount: { refund: 500, total: 1200, currency: "CNY" } };
    const a = await refund({ ...base, out_refund_no: "R1" + x.outTradeNo });
    expect(a.signed).toBe(true);
    expect(a.json).toMatchObject({ status: "PROCESSING", out_trade_no: x.outTradeNo, transaction_id: x.transactionId, amount: { refund: 500, total: 1200 } });
    const again = await refund({ ...base, out_refund_no: "R1" + x.outTradeNo });
    expect(again.json!.refund_id).toBe(a.json!.refund_id);
    expect((await refund({ ...base, out_refund_no: "R2" + x.outTradeNo, amount: { refund: 100, total: 1000, currency: "CNY" } })).json!.code).toBe("INVALID_REQUEST");
    expect((await refund({ ...base, out_refund_no: "R3" + x.outTradeNo, amount: { refund: 701, total: 1200, currency: "CNY" } })).json!.code).toBe("INVALID_REQUEST");
    const unpaid = await order(s);
    const r404 = await refund({ ...base, out_trade_no: unpaid.outTradeNo, out_refund_no: "R4" + x.outTradeNo });
    expect([r404.res.status, r404.json!.code]).toEqual([404, "RESOURCE_NOT_EXISTS"]);
    expect((await refund({ ...base, transaction_id: "4200", out_refund_no: "R5" })).json!.code).toBe("PARAM_ERROR");

    await s.sim.flush();
    s.received.length = 0;
    s.clock.advance(60_000);
    await s.sim.settleRefund("R1" + x.outTradeNo, "SUCCESS");
    await s.sim.flush();
    const d = s.received[0]!;
    expect(await verifySigned(d.req.headers, d.body)).toBe(true);
    const { env, resource } = await decryptNotification(d);
    expect(env).toMatchObject({ event_type: "REFUND.SUCCESS", resource: { original_type: "refund", associated_data: "refund" } });
    expect(resource).toMatchObject({ out_refund_no: "R1" + x.outTradeNo, refund_status: "SUCCESS", amount: { refund: 500, total: 1200 } });
    expect(resource.status).toBeUndefined();
    const q = await call(s.sim, s.clock, "GET", `/v3/refund/domestic/refunds/R1${x.outTradeNo}`);
    expect(q.json).toMatchObject({ status: "SUCCESS", success_time: "2026-11-29T20:01:00+08:00" });
    const t = await call(s.sim, s.clock, "GET", `/v3/pay/transactions/out-trade-no/${x.outTradeNo}?mchid=${K.MCHID}`);
    expect(t.json!.trade_state).toBe("REFUND");
    await expect(s.sim.settleRefund("R1" + x.outTradeNo, "CLOSED")).rejects.toThrow(/already/);
  });
  it("ABNORMAL and CLOSED notifications; a CLOSED refund frees its amount", async () => {
    const x = await paidOrder(s);
    const body = (no: string, amount: number) => ({ out_trade_no: x.outTradeNo, out_refund_no: no, amount: { refund: amount, total: 1200, currency: "CNY" } });
    await refund(body(`A${x.outTradeNo}`, 1200));
    await s.sim.settleRefund(`A${x.outTradeNo}`, "ABNORMAL");
    await refund(body(`B${x.outTradeNo}`, 1)).then((r) => expect(r.json!.code).toBe("INVALID_REQUEST"));
    s.received.length = 0;
    await s.sim.settleRefund(`A${x.outTradeNo}`, "CLOSED");
    await s.sim.flush();
    const types = await Promise.all(s.received.map(async (d) => (await decryptNotification(d)).env.event_type));
    expect(types).toEqual(["TRANSACTION.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"]);
    expect((await refund(body(`C${x.outTradeNo}`, 1200))).json!.status).toBe("PROCESSING");
    expect((await call(s.sim, s.clock, "GET", "/v3/refund/domestic/refunds/NOSUCH")).res.status).toBe(404);
  });
  it("auto-settles after a configured delay", async () => {
    const a = setup({ refundAutoSettleMs: 120_000 });
    const x = await paidOrder(a);
    await call(a.sim, a.clock, "POST", "/v3/refund/domestic/refunds", { out_trade_no: x.outTradeNo, out_refund_no: `AU${x.outTradeNo}`, amount: { refund: 1, total: 1200, currency: "CNY" } });
    a.clock.advance(120_000);
    await a.sim.deliverDue();
    expect(a.sim.getRefund(`AU${x.outTradeNo}`)!.status).toBe("SUCCESS");
    expect(a.sim.notifications.map((n) => n.eventType)).toEqual(["TRANSACTION.SUCCESS", "REFUND.SUCCESS"]);
  });
});

describe("trade bills (I)", () => {
  it("a CSV in the fixture's format, built from the day's payments and refunds", async () => {
    const s = setup();
    const a = await paidOrder(s, { description: "咖啡, 大杯" });
    s.clock.advance(60_000);
    await paidOrder(s, { amount: { total: 1, currency: "CNY" } });
    await call(s.sim, s.clock, "POST", "/v3/refund/domestic/refunds", { out_trade_no: a.outTradeNo, out_refund_no: `RB${a.outTradeNo}`, amount: { refund: 300, total: 1200, currency: "CNY" } });
    await s.sim.settleRefund(`RB${a.outTradeNo}`, "SUCCESS");
    const bill = (date: string) => call(s.sim, s.clock, "GET", `/v3/bill/tradebill?bill_date=${date}&bill_type=ALL`);

    expect((await bill("2026-11-29")).json!.code).toBe("NO_STATEMENT_EXIST"); // not before 10:00 next day
    s.clock.set(Date.UTC(2026, 10, 30, 2, 0, 0)); // 10:00 Shanghai
    const link = await bill("2026-11-29");
    expect(link.signed).toBe(true);
    expect(link.json).toMatchObject({ hash_type: "SHA1", download_url: expect.stringMatching(/^https:\/\/api\.mch\.weixin\.qq\.com\/v3\/billdownload\/file\?token=/) });
    expect((await bill("2026-11-28")).json!.code).toBe("NO_STATEMENT_EXIST");
    expect((await bill("2026-12-01")).json!.code).toBe("NO_STATEMENT_EXIST");

    const dl = await call(s.sim, s.clock, "GET", new URL(link.json!.download_url).pathname + new URL(link.json!.download_url).search);
    expect(dl.res.status).toBe(200);
    expect(dl.res.headers.get("wechatpay-signature")).toBeNull();
    const bytes = enc.encode(dl.raw);
    const sha1 = [...new Uint8Array(await crypto.subtle.digest("SHA-1", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(sha1).toBe(link.json!.hash_value);
    const unsigned = await s.sim.fetch(link.json!.download_url);
    expect(unsigned.status).toBe(401);

    // GZIP: the hash is of the uncompressed file
    const gz = await call(s.sim, s.clock, "GET", "/v3/bill/tradebill?bill_date=2026-11-29&bill_type=ALL&tar_type=GZIP");
    const gzUrl = new URL(gz.json!.download_url);
    const gzRes = await s.sim.fetch(gzUrl, { headers: (await signedHeaders(s.clock, "GET", gzUrl.pathname + gzUrl.search)) });
    const unzipped = await new Response(gzRes.body!.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
    expect(new Uint8Array(unzipped)).toEqual(bytes);
    expect(gz.json!.hash_value).toBe(sha1);
    expect((await call(s.sim, s.clock, "GET", "/v3/bill/tradebill?bill_date=2026-11-29&bill_type=REFUND")).json!.hash_value).not.toBe(sha1);

    // Shape against the fixture
    const { default: fixture } = await import("../fixtures/bill.ALL.csv?raw");
    const fx = (fixture as string).split("\r\n");
    expect(dl.raw.startsWith("\uFEFF")).toBe(true);
    expect(dl.raw.endsWith("\r\n")).toBe(true);
    const lines = dl.raw.slice(1).split("\r\n").slice(0, -1);
    expect(lines[0]).toBe(fx[0]!.replace(/^\uFEFF/, ""));
    expect(lines[0]!.split(",")).toHaveLength(27);
    expect(lines.at(-2)).toBe(fx.filter(Boolean).at(-2));
    const rows = lines.slice(1, -2).map((l) => l.split(","));
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect(r).toHaveLength(27);
      for (const c of r) expect(c.startsWith("`")).toBe(true);
    }
    const v = (r: string[], i: number) => r[i]!.slice(1);
    expect(rows.map((r) => v(r, 9))).toEqual(["SUCCESS", "SUCCESS", "REFUND"]);
    expect(v(rows[0]!, 0)).toBe("2026-11-29 20:00:00");
    expect([v(rows[0]!, 6), v(rows[0]!, 12), v(rows[0]!, 20), v(rows[0]!, 22)]).toEqual([a.outTradeNo, "12.00", "咖啡， 大杯", "0.07000"]);
    expect([v(rows[2]!, 15), v(rows[2]!, 16), v(rows[2]!, 25)]).toEqual([`RB${a.outTradeNo}`, "3.00", "3.00"]);
    const summary = lines.at(-1)!.split(",").map((c) => c.slice(1));
    expect(summary).toEqual(["3", "12.01", "3.00", "0.00", "0.05", "12.01", "3.00"]);

    // the fixture parses with the same rules
    const fxRows = fx.slice(1, -3).map((l) => l.split(","));
    expect(fxRows.every((r) => r.length === 27 && r.every((c) => c.startsWith("`")))).toBe(true);
  });
});

describe("control endpoints over HTTP (/__sim)", () => {
  it("login-code, pay, faults, stats, reset", async () => {
    const s = setup();
    const code = (await (await s.sim.fetch("http://127.0.0.1:8788/__sim/login-code", { method: "POST", body: JSON.stringify({ openid: "oHttp" }) })).json()) as any;
    expect(code.openid).toBe("oHttp");
    const q = new URLSearchParams({ appid: K.APPID, secret: K.APPSECRET, js_code: code.code, grant_type: "authorization_code" });
    expect(((await (await s.sim.fetch(`http://x/sns/jscode2session?${q}`)).json()) as any).openid).toBe("oHttp");
    const r = await call(s.sim, s.clock, "POST", "/v3/pay/transactions/jsapi", prepayBody("oHttp"));
    const payRes = await s.sim.fetch("http://x/__sim/pay", { method: "POST", body: JSON.stringify({ payment: await paymentFor(r.json!.prepay_id) }) });
    expect(((await payRes.json()) as any).errMsg).toBe("requestPayment:ok");
    const flushed = (await (await s.sim.fetch("http://x/__sim/notifications/flush", { method: "POST" })).json()) as any;
    expect(flushed.deliveries).toHaveLength(1);
    const f = await s.sim.fetch("http://x/__sim/faults", { method: "POST", body: JSON.stringify({ target: "api", path: "*", kind: "systemError" }) });
    expect(f.status).toBe(201);
    expect((await s.sim.fetch("http://x/__sim/faults", { method: "POST", body: JSON.stringify({ target: "api", path: "*", kind: "nope" }) })).status).toBe(400);
    const stats = (await (await s.sim.fetch("http://x/__sim/stats")).json()) as any;
    expect(stats.calls["POST /v3/pay/transactions/jsapi"]).toBe(1);
    expect(stats.notificationsDelivered).toBe(1);
    expect((await s.sim.fetch("http://x/__sim/reset", { method: "POST" })).status).toBe(204);
    expect(s.sim.listTransactions()).toHaveLength(0);
    expect(s.sim.listFaults()).toHaveLength(0);
  });
});

/**
 * The simulator's mini-program server APIs (WECHATPAY.md M, N, P), called directly: stable_token
 * (normal and force mode, early renewal, lifetimes), the token check, upload_shipping_info's
 * validation and error codes, get_order, receipt and settlement, phone-number codes,
 * checksession and open data (Q).
 */
import { describe, expect, it } from "vitest";
import { fromBase64, fromUtf8, toHex, utf8 } from "../../src/lib/encoding";
import * as K from "../fixtures/keys";
import { paidAtWechat } from "../support/shop";
import { createWorld, type World } from "../support/world";

const BASE = "https://api.weixin.qq.com";

async function post(w: World, path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await w.sim.fetch(`${BASE}${path}${token ? `?access_token=${token}` : ""}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return (await res.json()) as Record<string, unknown>;
}

const stable = (w: World, force = false) => post(w, "/cgi-bin/stable_token", { grant_type: "client_credential", appid: K.APPID, secret: K.APPSECRET, force_refresh: force });

describe("stable_token", () => {
  it("normal mode: the same token while > 5 min remain, the next one inside them (the old one still valid)", async () => {
    const w = createWorld();
    const a = await stable(w);
    expect(a.expires_in).toBe(7200);
    w.clock.advance(3600_000);
    expect(await stable(w)).toEqual({ access_token: a.access_token, expires_in: 3600 });
    w.clock.advance(3600_000 - 299_000);
    const b = await stable(w);
    expect(b.access_token).not.toBe(a.access_token);
    expect((await post(w, "/wxa/sec/order/is_trade_managed", { appid: K.APPID }, String(a.access_token))).errcode).toBe(0);
    w.clock.advance(300_000);
    expect((await post(w, "/wxa/sec/order/is_trade_managed", { appid: K.APPID }, String(a.access_token))).errcode).toBe(42001);
    expect(w.sim.wx.tokenStats()).toMatchObject({ stableTokenCalls: 3, forceRefreshCalls: 0 });
  });

  it("force mode revokes the current token at once (40001); bad credentials are refused", async () => {
    const w = createWorld();
    const a = await stable(w);
    await stable(w, true);
    expect((await post(w, "/wxa/sec/order/is_trade_managed", { appid: K.APPID }, String(a.access_token))).errcode).toBe(40001);
    expect(w.sim.wx.tokenStats().forceRefreshCalls).toBe(1);
    expect((await post(w, "/cgi-bin/stable_token", { grant_type: "client_credential", appid: K.APPID, secret: "x" })).errcode).toBe(40125);
    expect((await post(w, "/cgi-bin/stable_token", { grant_type: "client_credential", appid: "wx0", secret: K.APPSECRET })).errcode).toBe(40013);
    expect((await post(w, "/cgi-bin/stable_token", { grant_type: "x", appid: K.APPID, secret: K.APPSECRET })).errcode).toBe(40002);
    expect((await post(w, "/wxa/sec/order/is_trade_managed", { appid: K.APPID })).errcode).toBe(41001);
    expect((await post(w, "/wxa/sec/order/is_trade_managed", { appid: K.APPID }, "junk")).errcode).toBe(40014);
  });

  it("a configured lifetime, expiry and invalidation controls", async () => {
    const w = createWorld({ sim: { tokenLifetimeS: 300 } });
    const a = await stable(w);
    expect(a.expires_in).toBe(300);
    w.sim.wx.invalidateTokens();
    expect((await post(w, "/wxa/sec/order/is_trade_managed", { appid: K.APPID }, String(a.access_token))).errcode).toBe(40001);
    const b = await stable(w);
    w.sim.wx.expireTokens();
    expect((await post(w, "/wxa/sec/order/is_trade_managed", { appid: K.APPID }, String(b.access_token))).errcode).toBe(42001);
  });
});

describe("upload_shipping_info and get_order", () => {
  async function setup() {
    const w = createWorld({ sim: { push: undefined } });
    const j = await paidAtWechat(w);
    const token = String((await stable(w)).access_token);
    const upload = (over: Record<string, unknown> = {}) =>
      post(w, "/wxa/sec/order/upload_shipping_info", {
        order_key: { order_number_type: 2, transaction_id: j.transactionId },
        logistics_type: 1,
        delivery_mode: 1,
        shipping_list: [{ tracking_no: "T1", express_company: "YTO", item_desc: "咖啡*1" }],
        upload_time: "2026-11-29T20:00:00.000+08:00",
        payer: { openid: j.user.openid },
        ...over,
      }, token);
    return { w, j, token, upload };
  }

  it("WeChat's validation codes", async () => {
    const { upload, j } = await setup();
    const cases: [Record<string, unknown>, number][] = [
      [{ order_key: { order_number_type: 3 } }, 268485194],
      [{ order_key: { order_number_type: 2 } }, 268485195],
      [{ order_key: { order_number_type: 1, out_trade_no: "x" } }, 268485196],
      [{ logistics_type: 9 }, 10060005],
      [{ delivery_mode: 3 }, 268485224],
      [{ logistics_type: 3, delivery_mode: 2, is_all_delivered: true }, 10060006],
      [{ delivery_mode: 2 }, 10060007],
      [{ shipping_list: [{ tracking_no: "T1", express_company: "YTO", item_desc: "" }] }, 10060008],
      [{ shipping_list: [{ tracking_no: "T1", express_company: "YTO", item_desc: "字".repeat(121) }] }, 10060009],
      [{ shipping_list: [{ express_company: "YTO", item_desc: "a" }] }, 268485226],
      [{ shipping_list: [{ tracking_no: "T1", item_desc: "a" }] }, 268485227],
      [{ shipping_list: [{ tracking_no: "T1", express_company: "SF", item_desc: "a" }] }, 10060014],
      [{ shipping_list: [{ tracking_no: "T1", express_company: "SF", item_desc: "a", contact: { receiver_contact: "13812341234" } }] }, 10060014],
      [{ shipping_list: [{ item_desc: "a", tracking_no: "1", express_company: "YTO" }, { item_desc: "b", tracking_no: "2", express_company: "YTO" }] }, 268485228],
      [{ shipping_list: Array.from({ length: 16 }, () => ({ tracking_no: "1", express_company: "YTO", item_desc: "a" })), delivery_mode: 2, is_all_delivered: true }, 10060024],
      [{ upload_time: "2026-11-29 20:00:00" }, 268485216],
      [{ payer: { openid: "o-someone-else" } }, 10060031],
      [{ order_key: { order_number_type: 2, transaction_id: "4200000000000000000000000000" } }, 10060001],
    ];
    for (const [over, errcode] of cases) expect((await upload(over)).errcode, JSON.stringify(over)).toBe(errcode);
    // SF with a masked contact is fine.
    expect((await upload({ shipping_list: [{ tracking_no: "T1", express_company: "SF", item_desc: "a", contact: { receiver_contact: "138****1234" } }] })).errcode).toBe(0);
    expect(j.transactionId).toBeTruthy();
  });

  it("not visible right after payment (10060001), then shipped; one re-ship; same data 10060023; get_order states through settlement", async () => {
    const { w, j, token, upload } = await setup();
    w.sim.wx.setShippingVisibleAfter(60_000);
    expect((await upload()).errcode).toBe(10060001);
    expect((await post(w, "/wxa/sec/order/get_order", { transaction_id: j.transactionId }, token)).errcode).toBe(10060001);
    w.clock.advance(60_000);
    expect((await upload()).errcode).toBe(0);
    expect(((await post(w, "/wxa/sec/order/get_order", { transaction_id: j.transactionId }, token)).order as Record<string, unknown>).order_state).toBe(2);
    expect((await upload({ upload_time: "2026-11-29T20:00:00.000+08:00" })).errcode).toBe(10060014);
    expect((await upload({ upload_time: "2026-11-29T20:01:00.000+08:00" })).errcode).toBe(10060023);
    expect((await upload({ upload_time: "2026-11-29T20:02:00.000+08:00", shipping_list: [{ tracking_no: "T2", express_company: "YTO", item_desc: "a" }] })).errcode).toBe(0);
    expect((await upload({ upload_time: "2026-11-29T20:03:00.000+08:00", shipping_list: [{ tracking_no: "T3", express_company: "YTO", item_desc: "a" }] })).errcode).toBe(10060003);
    expect((await post(w, "/wxa/sec/order/get_order", {}, token)).errcode).toBe(10060014);
    const order = async () => (await post(w, "/wxa/sec/order/get_order", { merchant_id: K.MCHID, merchant_trade_no: j.order.outTradeNo }, token)).order as Record<string, unknown>;
    expect((await order()).shipping).toMatchObject({ finish_shipping: true, finish_shipping_count: 2 });
    await w.sim.wx.confirmReceipt(j.transactionId);
    expect((await order()).order_state).toBe(3);
    expect((await upload({ upload_time: "2026-11-29T20:04:00.000+08:00" })).errcode).toBe(10060004);
    await w.sim.wx.settle(j.transactionId);
    expect((await order()).order_state).toBe(4);
    expect(w.sim.wx.events.map((e) => e.Event)).toEqual(["trade_manage_order_settlement", "trade_manage_order_settlement", "trade_manage_order_settlement", "trade_manage_order_settlement"]);
    expect(w.sim.wx.events.at(-1)).toHaveProperty("settlement_time");
  });

  it("set_msg_jump_path and is_trade_managed", async () => {
    const { w, token } = await setup();
    expect((await post(w, "/wxa/sec/order/set_msg_jump_path", { path: "pages/order/index" }, token)).errcode).toBe(0);
    expect(w.sim.wx.msgJumpPath).toBe("pages/order/index");
    expect(await post(w, "/wxa/sec/order/is_trade_managed", { appid: K.APPID }, token)).toMatchObject({ errcode: 0, is_trade_managed: true });
    expect((await post(w, "/wxa/sec/order/is_trade_managed", { appid: "wx0" }, token)).errcode).toBe(40013);
  });
});

describe("getuserphonenumber", () => {
  it("a minted code once, within 5 minutes, for its own openid; watermark with our appid", async () => {
    const w = createWorld();
    const token = String((await stable(w)).access_token);
    const c = w.sim.wx.mintPhoneCode({ openid: "o-alice", purePhoneNumber: "13800001111" });
    expect((await post(w, "/wxa/business/getuserphonenumber", { code: c.code, openid: "o-bob" }, token)).errcode).toBe(40029);
    const ok = await post(w, "/wxa/business/getuserphonenumber", { code: c.code, openid: "o-alice" }, token);
    expect(ok).toMatchObject({ errcode: 0, phone_info: { purePhoneNumber: "13800001111", countryCode: 86, watermark: { appid: K.APPID } } });
    expect((await post(w, "/wxa/business/getuserphonenumber", { code: c.code }, token)).errcode).toBe(40029);
    const late = w.sim.wx.mintPhoneCode({ openid: "o-alice" });
    w.clock.advance(5 * 60_000 + 1);
    expect((await post(w, "/wxa/business/getuserphonenumber", { code: late.code }, token)).errcode).toBe(40029);
  });
});

describe("checksession and open data (Q)", () => {
  const hmac = async (sessionKey: string) => {
    const k = await crypto.subtle.importKey("raw", utf8(sessionKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return toHex(await crypto.subtle.sign("HMAC", k, utf8("")));
  };
  const exchange = async (w: World, code: string) => {
    const res = await w.sim.fetch(`${BASE}/sns/jscode2session?appid=${K.APPID}&secret=${K.APPSECRET}&js_code=${code}&grant_type=authorization_code`);
    return ((await res.json()) as { session_key: string }).session_key;
  };
  const check = async (w: World, q: Record<string, string>) =>
    (await (await w.sim.fetch(`${BASE}/wxa/checksession?${new URLSearchParams(q).toString()}`)).json()) as Record<string, unknown>;

  it("checksession: 0 for the openid's current key, 87009 once a newer wx.login superseded it", async () => {
    const w = createWorld();
    const access_token = String((await stable(w)).access_token);
    const first = w.sim.mintCode({ openid: "o-carol" });
    const k1 = await exchange(w, first.code);
    const q = (signature: string, over: Record<string, string> = {}) => ({ access_token, openid: "o-carol", signature, sig_method: "hmac_sha256", ...over });
    expect(await check(w, q(await hmac(k1)))).toMatchObject({ errcode: 0 });
    expect((await check(w, q((await hmac(k1)).toUpperCase()))).errcode).toBe(87009);
    expect((await check(w, q(await hmac(k1), { sig_method: "hmac_sha1" }))).errcode).toBe(87009);
    expect((await check(w, q(await hmac(k1), { openid: "o-nobody" }))).errcode).toBe(40003);
    expect((await check(w, { ...q(await hmac(k1)), access_token: "nope" })).errcode).toBe(40014);
    // wx.login again: the new key is current from the moment the code is issued, the old one is not.
    const second = w.sim.mintCode({ openid: "o-carol" });
    expect((await check(w, q(await hmac(k1)))).errcode).toBe(87009);
    const k2 = await exchange(w, second.code);
    expect(k2).not.toBe(k1);
    expect((await check(w, q(await hmac(k2)))).errcode).toBe(0);
  });

  it("open data: the data plus our watermark, AES-128-CBC with the current key; HTTP control the same", async () => {
    const w = createWorld();
    const { code } = w.sim.mintCode({ openid: "o-dave" });
    const key = await exchange(w, code);
    const decrypt = async (s: { encryptedData: string; iv: string }) => {
      const k = await crypto.subtle.importKey("raw", fromBase64(key)!, "AES-CBC", false, ["decrypt"]);
      return JSON.parse(fromUtf8(await crypto.subtle.decrypt({ name: "AES-CBC", iv: fromBase64(s.iv)! }, k, fromBase64(s.encryptedData)!))) as unknown;
    };
    const sealed = await w.sim.wx.openData({ openid: "o-dave", data: { stepInfoList: [{ timestamp: 1, step: 42 }] } });
    expect(fromBase64(sealed.iv)).toHaveLength(16);
    expect(await decrypt(sealed)).toEqual({ stepInfoList: [{ timestamp: 1, step: 42 }], watermark: { timestamp: Math.floor(w.clock.now() / 1000), appid: K.APPID } });
    const res = await w.sim.fetch("http://sim/__sim/wx/open-data", { method: "POST", body: JSON.stringify({ openid: "o-dave", data: { openGId: "g1" }, appid: "wx0ther" }) });
    expect(await decrypt((await res.json()) as { encryptedData: string; iv: string })).toMatchObject({ openGId: "g1", watermark: { appid: "wx0ther" } });
    const bad = await w.sim.fetch("http://sim/__sim/wx/open-data", { method: "POST", body: JSON.stringify({ openid: "o-nobody", data: {} }) });
    expect(bad.status).toBe(400);
  });
});

/**
 * `GET|POST /v1/wx/push` (SPEC §9, WECHATPAY.md O) against the simulator's sealer: URL
 * verification; safe-mode JSON and XML pushes stored once and answered `success`; the trade events'
 * flags; every tampered push refused with nothing stored; key rotation; no secret in any log line.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { encryptPush } from "../../src/wechat/push/cipher";
import { msgSignature, urlSignature } from "../../src/wechat/push/signature";
import * as keys from "../fixtures/keys";
import { dbSnapshot } from "../support/hostile";
import { count, paidAtWechat } from "../support/shop";
import { createWorld, PUSH_URL } from "../support/world";
import type { PushTamper } from "../simulator";

const PATH = "/v1/wx/push";

async function verifyQuery(token: string, over: Record<string, string> = {}) {
  const timestamp = "1714036504";
  const nonce = "1514711492";
  const q = { signature: await urlSignature(token, timestamp, nonce), timestamp, nonce, echostr: "4375120948345356249", ...over };
  return new URLSearchParams(q).toString();
}

const remind = (transactionId: string, outTradeNo: string, extra: Record<string, string | number> = {}) => ({
  Event: "trade_manage_remind_shipping",
  transaction_id: transactionId,
  merchant_id: keys.MCHID,
  sub_merchant_id: "",
  merchant_trade_no: outTradeNo,
  pay_time: 1764400000,
  msg: "您有一笔订单超过48小时未发货，请尽快发货",
  ...extra,
});

/** A paid order and a world whose simulator pushes to the Worker. */
async function paidWorld(opts: Parameters<typeof createWorld>[0] = {}) {
  const w = createWorld(opts);
  const paid = await paidAtWechat(w);
  await w.sim.flush();
  return { w, ...paid };
}

/** Storage is per file, not per test: events get their own CreateTime, counts are compared as deltas. */
let createTime = 1_800_000_000;
const fresh = () => ++createTime;

const pushRows = (orderId?: string) =>
  orderId ? count("SELECT count(*) AS n FROM wx_push_events WHERE order_id = ?", orderId) : count("SELECT count(*) AS n FROM wx_push_events");
const flagRows = (orderId: string, kind: string) => count("SELECT count(*) AS n FROM flags WHERE order_id = ? AND kind = ?", orderId, kind);

describe("GET /v1/wx/push (URL verification)", () => {
  it("answers echostr verbatim as text/plain when the signature verifies", async () => {
    const w = createWorld();
    const res = await w.request("GET", `${PATH}?${await verifyQuery(keys.PUSH_TOKEN)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toBe("4375120948345356249");
  });

  it("accepts the official vector's signature when configured with its Token", async () => {
    const w = createWorld({ env: { WX_PUSH_TOKEN: "AAAAA" } });
    const q = "signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492&echostr=4375120948345356249";
    expect(await (await w.request("GET", `${PATH}?${q}`)).text()).toBe("4375120948345356249");
  });

  it.each([
    ["another Token's signature", async () => verifyQuery("someOtherToken")],
    ["a changed timestamp", async () => verifyQuery(keys.PUSH_TOKEN, { timestamp: "1714036505" })],
    ["no signature", async () => (await verifyQuery(keys.PUSH_TOKEN)).replace(/signature=[^&]+&/, "")],
  ])("refuses %s with 401 and does not echo", async (_label, query) => {
    const w = createWorld();
    const res = await w.request("GET", `${PATH}?${await query()}`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe("unauthorized");
    expect(JSON.stringify(body)).not.toContain("4375120948345356249");
  });

  it("400 without echostr", async () => {
    const w = createWorld();
    const res = await w.request("GET", `${PATH}?${(await verifyQuery(keys.PUSH_TOKEN)).replace(/&echostr=\d+/, "")}`);
    expect(res.status).toBe(400);
  });

  it("404 on both methods while WX_PUSH_TOKEN and WX_PUSH_AES_KEY are unset", async () => {
    const w = createWorld({ env: { WX_PUSH_TOKEN: "", WX_PUSH_AES_KEY: "" } });
    const get = await w.request("GET", `${PATH}?${await verifyQuery(keys.PUSH_TOKEN)}`);
    expect(get.status).toBe(404);
    expect(((await get.json()) as { error: { message: string } }).error.message).toMatch(/WX_PUSH_TOKEN and WX_PUSH_AES_KEY/);
    const before = await pushRows();
    const d = await w.sim.push({ Event: "debug_demo", CreateTime: fresh() });
    expect(d.status).toBe(404);
    expect(await pushRows()).toBe(before);
  });
});

describe("POST /v1/wx/push", () => {
  it("JSON: trade_manage_remind_shipping → stored once, shipping_overdue flag on the order, `success` as text/plain", async () => {
    const { w, order, transactionId } = await paidWorld();
    const d = await w.sim.push(remind(transactionId, order.outTradeNo));
    expect(d).toMatchObject({ status: 200, body: "success" });
    const row = await env.DB.prepare("SELECT * FROM wx_push_events WHERE order_id = ?").bind(order.id).first<Record<string, unknown>>();
    expect(row).toMatchObject({ event: "trade_manage_remind_shipping", transaction_id: transactionId, merchant_trade_no: order.outTradeNo, format: "json", status: "applied" });
    expect(JSON.parse(String(row!.body))).toMatchObject({ MsgType: "event", transaction_id: transactionId });
    expect(await flagRows(order.id, "shipping_overdue")).toBe(1);
    const admin = (await (await w.request("GET", `/admin/orders/${order.id}`, { token: keys.ADMIN_TOKEN })).json()) as { flags: { kind: string; detail: { pushEventId: string } }[] };
    expect(admin.flags.find((f) => f.kind === "shipping_overdue")?.detail.pushEventId).toBe(row!.id);
  });

  it("XML: wxa_trade_controlled → stored, trade_controlled flag", async () => {
    const { w, order, transactionId } = await paidWorld();
    const d = await w.sim.push({ Event: "wxa_trade_controlled", transaction_id: transactionId, msg: "小程序需接入订单发货管理" }, { format: "xml" });
    expect(d).toMatchObject({ status: 200, body: "success" });
    expect(await count("SELECT count(*) AS n FROM wx_push_events WHERE order_id = ? AND format = 'xml' AND event = 'wxa_trade_controlled'", order.id)).toBe(1);
    expect(await flagRows(order.id, "trade_controlled")).toBe(1);
  });

  it("the answer does not depend on Content-Type: the format comes from the body", async () => {
    const { w, order, transactionId } = await paidWorld();
    const sealed = await w.sim.sealPush(remind(transactionId, order.outTradeNo), { format: "xml" });
    const res = await w.fetch(new Request(sealed.url, { method: "POST", headers: { "content-type": "application/json" }, body: sealed.body }));
    expect(await res.text()).toBe("success");
    expect(await count("SELECT count(*) AS n FROM wx_push_events WHERE order_id = ? AND format = 'xml'", order.id)).toBe(1);
  });

  it("a retried push (same event, transaction and CreateTime; fresh nonce and timestamp) is stored and flagged once", async () => {
    const { w, order, transactionId } = await paidWorld();
    const event = remind(transactionId, order.outTradeNo, { CreateTime: 1764500000 });
    for (const format of ["json", "xml", "json"] as const) {
      w.clock.advance(1000);
      expect((await w.sim.push(event, { format })).body).toBe("success");
    }
    expect(await pushRows(order.id)).toBe(1);
    expect(await flagRows(order.id, "shipping_overdue")).toBe(1);
    expect(w.logs.filter((l) => l.includes('"outcome":"duplicate"'))).toHaveLength(2);
  });

  it("20 concurrent copies of one push: one row, one flag", async () => {
    const { w, order, transactionId } = await paidWorld();
    const event = remind(transactionId, order.outTradeNo, { CreateTime: 1764500001 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => w.sim.push(event)));
    expect(answers.map((a) => a.body)).toEqual(Array(20).fill("success"));
    expect(await pushRows(order.id)).toBe(1);
    expect(await flagRows(order.id, "shipping_overdue")).toBe(1);
  });

  it("a second reminder (another CreateTime) is stored, but the order keeps one open shipping_overdue flag", async () => {
    const { w, order, transactionId } = await paidWorld();
    await w.sim.push(remind(transactionId, order.outTradeNo, { CreateTime: 1764500002 }));
    await w.sim.push(remind(transactionId, order.outTradeNo, { CreateTime: 1764586402 }));
    expect(await pushRows(order.id)).toBe(2);
    expect(await flagRows(order.id, "shipping_overdue")).toBe(1);
  });

  it("a reminder for a payment we do not know is stored and flagged without an order", async () => {
    const w = createWorld();
    await w.sim.push(remind("4200000000000000000000000001", "NO_SUCH_ORDER"));
    const flag = await env.DB.prepare("SELECT * FROM flags WHERE kind = 'shipping_overdue' AND detail LIKE '%NO_SUCH_ORDER%'").first<{ order_id: string | null; detail: string }>();
    expect(flag?.order_id).toBeNull();
    expect(JSON.parse(flag!.detail)).toMatchObject({ transactionId: "4200000000000000000000000001", merchantTradeNo: "NO_SUCH_ORDER" });
  });

  it("trade_manage_order_settlement: applied through get_order (confirm_receive_method is never read)", async () => {
    const { w, order, transactionId } = await paidWorld();
    const d = await w.sim.push({
      Event: "trade_manage_order_settlement",
      transaction_id: transactionId,
      merchant_id: keys.MCHID,
      merchant_trade_no: order.outTradeNo,
      pay_time: 1764400000,
      shipped_time: 1764403600,
      confirm_receive_method: 1,
      confirm_receive_time: 1764490000,
      settlement_time: 1764500000,
    });
    expect(d.body).toBe("success");
    const row = await env.DB.prepare("SELECT status, event FROM wx_push_events WHERE order_id = ?").bind(order.id).first();
    // The push says "confirmed, settled"; get_order says the payment is still awaiting shipment.
    expect(row).toMatchObject({ event: "trade_manage_order_settlement", status: "applied" });
    expect(w.sim.stats().calls["POST /wxa/sec/order/get_order"]).toBe(1);
    expect(await count("SELECT count(*) AS n FROM shippings WHERE order_id = ? AND status IN ('RECEIVED', 'SETTLED')", order.id)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM flags WHERE order_id = ?", order.id)).toBe(0);
  });

  it("other events and messages are stored only; messages dedupe by MsgId", async () => {
    const w = createWorld();
    const [stored, flags] = [await count("SELECT count(*) AS n FROM wx_push_events WHERE status = 'stored'"), await count("SELECT count(*) AS n FROM flags")];
    await w.sim.push({ Event: "trade_manage_remind_access_api", msg: "请接入发货信息管理", CreateTime: fresh() });
    await w.sim.push({ MsgType: "text", Content: "你好", MsgId: 24601 }, { format: "xml" });
    w.clock.advance(2000);
    await w.sim.push({ MsgType: "text", Content: "你好", MsgId: 24601 });
    expect(await count("SELECT count(*) AS n FROM wx_push_events WHERE status = 'stored'")).toBe(stored + 2);
    expect(await count("SELECT count(*) AS n FROM flags")).toBe(flags);
  });

  it("accepts a timestamp exactly 300 s away, refuses 301 s", async () => {
    const w = createWorld();
    const now = Math.floor(w.clock.now() / 1000);
    const before = await pushRows();
    expect((await w.sim.push({ Event: "debug_demo", CreateTime: fresh() }, { timestamp: now - 300 })).status).toBe(200);
    expect((await w.sim.push({ Event: "debug_demo", CreateTime: fresh() }, { timestamp: now + 300 })).status).toBe(200);
    expect((await w.sim.push({ Event: "debug_demo", CreateTime: fresh() }, { timestamp: now - 301 })).status).toBe(401);
    expect(await pushRows()).toBe(before + 2);
  });
});

describe("POST /v1/wx/push: refused pushes store nothing", () => {
  const cases: [PushTamper, number, RegExp][] = [
    ["msg_signature", 401, /^msg_signature does not match/],
    ["signature", 401, /^signature does not match/],
    ["stale", 401, /^timestamp is 301 s away/],
    ["future", 401, /^timestamp is 301 s away/],
    ["other_appid", 401, /another AppID/],
    ["plaintext", 401, /safe-mode/],
    ["bad_padding", 400, /PKCS#7/],
    ["wrong_key", 400, /WX_PUSH_AES_KEY/],
  ];
  it.each(cases)("tampered %s → %i, nothing stored, in JSON and XML", async (tamper, status, reason) => {
    const { w, order, transactionId } = await paidWorld();
    const before = await dbSnapshot();
    for (const format of ["json", "xml"] as const) {
      const d = await w.sim.push(remind(transactionId, order.outTradeNo), { tamper, format });
      expect(d.status, `${tamper} ${format}`).toBe(status);
      const err = JSON.parse(d.body) as { error: { code: string; message: string } };
      expect(err.error.code).toBe(status === 401 ? "unauthorized" : "invalid_request");
      expect(err.error.message).toMatch(reason);
    }
    expect(await dbSnapshot()).toEqual(before);
    expect(w.logs.filter((l) => l.includes('"msg":"push refused"'))).toHaveLength(2);
  });

  it("verified but unreadable: a message that is neither JSON nor XML → 400, nothing stored", async () => {
    const w = createWorld();
    const ts = String(Math.floor(w.clock.now() / 1000));
    const nonce = "123456";
    const encrypt = await encryptPush(keys.PUSH_AES_KEY, "hello, not a document", keys.APPID, new TextEncoder().encode("0123456789abcdef"));
    const q = new URLSearchParams({ signature: await urlSignature(keys.PUSH_TOKEN, ts, nonce), timestamp: ts, nonce, encrypt_type: "aes", msg_signature: await msgSignature(keys.PUSH_TOKEN, ts, nonce, encrypt) });
    const before = await dbSnapshot();
    const res = await w.fetch(new Request(`${PUSH_URL}?${q}`, { method: "POST", body: JSON.stringify({ ToUserName: "gh_x", Encrypt: encrypt }) }));
    expect(res.status).toBe(400);
    expect(await dbSnapshot()).toEqual(before);
  });

  it("a message without CreateTime → 400", async () => {
    const w = createWorld();
    const ts = String(Math.floor(w.clock.now() / 1000));
    const encrypt = await encryptPush(keys.PUSH_AES_KEY, '{"MsgType":"event","Event":"x"}', keys.APPID, new TextEncoder().encode("0123456789abcdef"));
    const q = new URLSearchParams({ signature: await urlSignature(keys.PUSH_TOKEN, ts, "1"), timestamp: ts, nonce: "1", msg_signature: await msgSignature(keys.PUSH_TOKEN, ts, "1", encrypt) });
    const before = await dbSnapshot();
    const res = await w.fetch(new Request(`${PUSH_URL}?${q}`, { method: "POST", body: `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>` }));
    expect(res.status).toBe(400);
    expect(await dbSnapshot()).toEqual(before);
  });
});

describe("POST /v1/wx/push: EncodingAESKey rotation", () => {
  it("a push sealed with the previous key is accepted while WX_PUSH_AES_KEY_PREVIOUS holds it, with a warning", async () => {
    const w = createWorld({ env: { WX_PUSH_AES_KEY_PREVIOUS: keys.PUSH_AES_KEY_OLD } });
    const before = await pushRows();
    const d = await w.sim.push({ Event: "debug_demo", CreateTime: fresh() }, { encodingAesKey: keys.PUSH_AES_KEY_OLD });
    expect(d.body).toBe("success");
    expect(await pushRows()).toBe(before + 1);
    expect(w.logs.filter((l) => l.includes("WX_PUSH_AES_KEY_PREVIOUS"))).toHaveLength(1);
    // The current key still works, first (no warning).
    expect((await w.sim.push({ Event: "debug_demo", CreateTime: fresh() })).body).toBe("success");
    expect(w.logs.filter((l) => l.includes("WX_PUSH_AES_KEY_PREVIOUS"))).toHaveLength(1);
  });

  it("the same push without the previous key configured → 400, nothing stored", async () => {
    const w = createWorld();
    const before = await dbSnapshot();
    const d = await w.sim.push({ Event: "debug_demo", CreateTime: fresh() }, { encodingAesKey: keys.PUSH_AES_KEY_OLD });
    expect(d.status).toBe(400);
    expect(await dbSnapshot()).toEqual(before);
  });
});

describe("POST /v1/wx/push: logs", () => {
  it("no Token, EncodingAESKey, signature or decrypted body in any log line", async () => {
    const { w, order, transactionId } = await paidWorld({ env: { WX_PUSH_AES_KEY_PREVIOUS: keys.PUSH_AES_KEY_OLD } });
    const sealed = await w.sim.sealPush(remind(transactionId, order.outTradeNo));
    await w.sim.push(remind(transactionId, order.outTradeNo));
    await w.sim.push({ Event: "wxa_trade_controlled", msg: "secret-ish text", CreateTime: fresh() }, { format: "xml", encodingAesKey: keys.PUSH_AES_KEY_OLD });
    for (const tamper of ["msg_signature", "bad_padding", "other_appid"] as const) await w.sim.push({ Event: "debug_demo", CreateTime: fresh() }, { tamper });
    const logs = w.logs.join("\n");
    expect(w.logs.length).toBeGreaterThan(4);
    const url = new URL(sealed.url);
    for (const secret of [
      keys.PUSH_TOKEN,
      keys.PUSH_AES_KEY,
      keys.PUSH_AES_KEY_OLD,
      JSON.parse(sealed.body).Encrypt as string,
      url.searchParams.get("msg_signature")!,
      "secret-ish text",
      "您有一笔订单超过48小时未发货",
      ...w.sim.pushes.map((p) => p.message),
    ]) {
      expect(logs).not.toContain(secret);
    }
  });
});

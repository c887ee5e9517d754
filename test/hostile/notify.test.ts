/**
 * Hostile input, POST /v1/pay/notify. Three layers, each generated from a genuine notification:
 *  1. unsigned or badly signed requests (bodies, headers, sizes, content types) → 400/401 FAIL;
 *  2. correctly signed envelopes that are malformed (what a compromised or buggy sender could
 *     send) → 400 FAIL, or 204 when the mutation left a valid notification;
 *  3. correctly signed and encrypted resources whose plaintext is malformed → 400 FAIL or 204
 *     (stored and flagged) — never a 5xx, never a payment that does not match the order.
 * Every 4xx leaves every table untouched. Then a secret scan, including the decrypted bodies.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  dbSnapshot,
  envelopeCases,
  expectNotifyFailure,
  mutateBody,
  Rng,
  SecretWatch,
  send,
  type Answer,
  type BodyCase,
  untouched,
} from "../support/hostile";
import { getOrder, paidAtWechat, placeOrder, type OrderJson } from "../support/shop";
import { createWorld, type World } from "../support/world";
import { NOTIFY_URL, PLATFORM1_SERIAL } from "../fixtures/keys";

const SEED = 0x5eed03;
const PATH = "/v1/pay/notify";

let w: World;
let watch: SecretWatch;
/** A genuine, already delivered TRANSACTION.SUCCESS (its order is PAID). */
let deliveredBody: string;
let deliveredResource: Record<string, unknown>;
/** An order paid at WeChat whose notification was never delivered (still PAYING here). */
let pending: { order: OrderJson; token: string; resource: Record<string, unknown> };

beforeAll(async () => {
  w = createWorld();
  watch = new SecretWatch(w);
  await paidAtWechat(w);
  await w.sim.flush();
  const item = w.sim.notifications[0]!;
  deliveredBody = item.body;
  deliveredResource = item.resource;
  const p = await paidAtWechat(w);
  const queued = w.sim.notifications.find((n) => n.outTradeNo === p.order.outTradeNo)!;
  pending = { order: p.order, token: p.user.token, resource: queued.resource };
  // An unknown serial makes the Worker refresh its certificates once (then not again for 60 s):
  // do it now, so the refresh's own writes are not mistaken for a hostile request's.
  const warm = await send(w, "POST", PATH, { body: "{}", contentType: "application/json" }, { ...(await w.sim.signNotificationBody("{}")), "wechatpay-serial": "00DEADBEEF" });
  expect(warm.status).toBe(401);
});

describe("hostile: unsigned and badly signed notifications", () => {
  it("generated malformed bodies without a valid signature → 400/401 FAIL, nothing written", async () => {
    const rng = new Rng(SEED);
    const envelope = JSON.parse(deliveredBody) as unknown;
    const cases: BodyCase[] = [...mutateBody(envelope, rng, 150), ...envelopeCases({})];
    // The genuine body too: without headers, and with the headers of another body.
    cases.push({ label: "genuine body, no headers", body: deliveredBody, contentType: "application/json" });
    const otherHeaders = await w.sim.signNotificationBody('{"id":"x"}');
    await untouched(w, async () => {
      for (const c of cases) {
        const a = await send(w, "POST", PATH, c, rng.chance(0.5) ? otherHeaders : {});
        expectNotifyFailure(a, [400, 401], `notify ${c.label}`);
      }
    }, { wechat: false });
  });

  it("hostile Wechatpay-* headers on a genuine body → 401 FAIL, nothing written", async () => {
    const good = await w.sim.signNotificationBody(deliveredBody);
    const rng = new Rng(SEED + 1);
    const variants: [string, string, string | null][] = [];
    for (const h of ["wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial", "wechatpay-signature-type"]) {
      variants.push([h, "missing", null], [h, "empty", ""], [h, "huge", "A".repeat(8000)], [h, "junk", rng.nastyString(20).replace(/[^\x20-\x7e]/g, "?")]);
    }
    variants.push(
      ["wechatpay-timestamp", "negative", "-1"],
      ["wechatpay-timestamp", "float", `${good["wechatpay-timestamp"]}.5`],
      ["wechatpay-timestamp", "exponent", "1.7e9"],
      ["wechatpay-timestamp", "milliseconds", `${good["wechatpay-timestamp"]}000`],
      ["wechatpay-timestamp", "huge", "9".repeat(40)],
      ["wechatpay-serial", "lower-case unknown", "deadbeef"],
      ["wechatpay-serial", "public key id prefix", "PUB_KEY_ID_"],
      ["wechatpay-serial", "path traversal", "../../etc"],
      ["wechatpay-serial", "SQL", "' OR 1=1 --"],
      ["wechatpay-signature", "not base64", "!!!!"],
      ["wechatpay-signature", "short", "AAAA"],
      ["wechatpay-signature", "WECHATPAY/SIGNTEST/", "WECHATPAY/SIGNTEST/abc"],
      ["wechatpay-signature-type", "other algorithm", "WECHATPAY2-SM2-WITH-SM3"],
    );
    await untouched(w, async () => {
      for (const [name, label, value] of variants) {
        const headers: Record<string, string> = { ...good };
        if (value === null) delete headers[name];
        else headers[name] = value;
        const a = await send(w, "POST", PATH, { body: deliveredBody, contentType: headers["content-type"] ?? null }, headers);
        // An empty or missing Signature-Type is WeChat's default, so that one may verify: then it is a duplicate.
        if (name === "wechatpay-signature-type" && (value === null || value === "") && a.status === 204) continue;
        expectNotifyFailure(a, [400, 401], `notify ${name} ${label}`);
      }
    }, { wechat: false });
  });
});

describe("hostile: correctly signed but malformed envelopes", () => {
  it("generated envelope mutations, signed like WeChat → 400 FAIL (nothing written) or 204", async () => {
    const rng = new Rng(SEED + 2);
    const envelope = JSON.parse(deliveredBody) as unknown;
    const cases = mutateBody(envelope, rng, 100).filter((c) => typeof c.body === "string");
    const seen = new Map<number, number>();
    for (const c of cases) {
      const headers = await w.sim.signNotificationBody(c.body as string);
      const before = await dbSnapshot();
      const a: Answer = await send(w, "POST", PATH, c, headers);
      seen.set(a.status, (seen.get(a.status) ?? 0) + 1);
      if (a.status === 204) continue; // a mutation that left a valid (duplicate or other-id) notification
      expectNotifyFailure(a, [400], `signed ${c.label}`);
      expect(await dbSnapshot(), `signed ${c.label} wrote`).toEqual(before);
    }
    expect(seen.get(400) ?? 0).toBeGreaterThan(40);
  });
});

describe("hostile: correctly signed and encrypted, malformed plaintext", () => {
  async function signedWithResource(plaintext: unknown, id: string, opts: { eventType?: string; aad?: string } = {}): Promise<{ body: string; headers: Record<string, string> }> {
    const aad = opts.aad ?? "transaction";
    const resource = await w.sim.encryptResource(plaintext, aad);
    const body = JSON.stringify({
      id,
      create_time: "2026-11-29T20:00:00+08:00",
      resource_type: "encrypt-resource",
      event_type: opts.eventType ?? "TRANSACTION.SUCCESS",
      summary: "支付成功",
      resource,
    });
    return { body, headers: await w.sim.signNotificationBody(body) };
  }

  it("generated resource mutations for an unpaid order → 400 or 204, never 5xx; the order is paid only by a matching transaction", async () => {
    const rng = new Rng(SEED + 3);
    const essentials = ["appid", "mchid", "out_trade_no", "trade_state", "transaction_id", "success_time", "amount", "total", "currency"];
    // Only the fields the Worker must check are broken (WeChat may add fields: extra keys are
    // valid); a transaction_id that is still a non-empty string is a valid payment, not a malformation.
    const last = (p: (string | number)[]) => String(p[p.length - 1]);
    const cases = mutateBody(pending.resource, rng, 90, {
      extraKeysInvalid: false,
      mutable: (p) => essentials.includes(last(p)),
      optional: (p) => !essentials.includes(last(p)),
      acceptable: (p, v) => last(p) === "transaction_id" && typeof v === "string" && v !== "",
    });
    let n = 0;
    const seen = new Map<number, number>();
    for (const c of cases) {
      let plaintext: unknown = c.body;
      if (c.body instanceof Uint8Array) plaintext = new TextDecoder().decode(c.body);
      const { body, headers } = await signedWithResource(plaintext, `EV-HOSTILE-${SEED}-${n++}`);
      const before = await dbSnapshot();
      const a = await send(w, "POST", PATH, { body, contentType: "application/json" }, headers);
      seen.set(a.status, (seen.get(a.status) ?? 0) + 1);
      if (a.status !== 204) {
        expectNotifyFailure(a, [400], `resource ${c.label}`);
        expect(await dbSnapshot(), `resource ${c.label} wrote`).toEqual(before);
      }
      // Whatever happened, the order is never paid by a transaction that does not match it.
      const o = await getOrder(w, pending.token, pending.order.id);
      expect(o.status, `resource ${c.label}`).toBe("PAYING");
    }
    expect(seen.get(400) ?? 0).toBeGreaterThan(10);
    expect(seen.get(204) ?? 0).toBeGreaterThan(10);
  });

  it("plaintexts that are not a transaction object, and broken AEAD fields → 400 FAIL, nothing written", async () => {
    const plaintexts: [string, unknown][] = [
      ["not JSON", "{not json"],
      ["JSON array", "[1,2]"],
      ["JSON string", '"SUCCESS"'],
      ["JSON null", "null"],
      ["empty", ""],
      ["lone surrogate", '{"out_trade_no":"\ud800"}'],
      ["no out_trade_no", JSON.stringify({ ...pending.resource, out_trade_no: undefined })],
      ["out_trade_no number", JSON.stringify({ ...pending.resource, out_trade_no: 12 })],
      ["trade_state object", JSON.stringify({ ...pending.resource, trade_state: {} })],
    ];
    let n = 0;
    await untouched(w, async () => {
      for (const [label, p] of plaintexts) {
        const { body, headers } = await signedWithResource(p, `EV-PLAIN-${n++}`);
        const a = await send(w, "POST", PATH, { body, contentType: "application/json" }, headers);
        expectNotifyFailure(a, [400], `plaintext ${label}`);
      }
      const real = JSON.parse(deliveredBody) as { resource: Record<string, unknown> };
      const resources: [string, unknown][] = [
        ["algorithm", { ...real.resource, algorithm: "AEAD_AES_128_GCM" }],
        ["algorithm missing", { ...real.resource, algorithm: undefined }],
        ["nonce empty", { ...real.resource, nonce: "" }],
        ["nonce long", { ...real.resource, nonce: "n".repeat(5000) }],
        ["nonce number", { ...real.resource, nonce: 12 }],
        ["ciphertext empty", { ...real.resource, ciphertext: "" }],
        ["ciphertext not base64", { ...real.resource, ciphertext: "!!!***" }],
        ["ciphertext short", { ...real.resource, ciphertext: "AAAA" }],
        ["ciphertext huge", { ...real.resource, ciphertext: "A".repeat(60_000) }],
        ["associated_data number", { ...real.resource, associated_data: 1 }],
        ["associated_data other", { ...real.resource, associated_data: "refund" }],
        ["resource array", [real.resource]],
        ["resource string", "resource"],
      ];
      for (const [label, resource] of resources) {
        const body = JSON.stringify({ ...real, id: `EV-RES-${n++}`, resource });
        const a = await send(w, "POST", PATH, { body, contentType: "application/json" }, await w.sim.signNotificationBody(body));
        expectNotifyFailure(a, [400], `resource.${label}`);
      }
    }, { wechat: false });
  });

  it("a genuine refund or unknown event type with a hostile resource → 400 or 204, never 5xx", async () => {
    const rng = new Rng(SEED + 4);
    let n = 0;
    for (const eventType of ["REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED", "TRANSACTION.CLOSED", "X".repeat(300), "\u0000"]) {
      for (let i = 0; i < 8; i++) {
        const plaintext = rng.pick([
          {},
          { out_refund_no: 1, refund_status: "SUCCESS" },
          { out_refund_no: "R".repeat(5000), refund_status: "SUCCESS", out_trade_no: pending.order.outTradeNo, amount: { refund: -1, total: "x" } },
          { out_refund_no: "nope", refund_status: rng.nastyString(10), amount: null },
          { out_trade_no: pending.order.outTradeNo, trade_state: "SUCCESS", amount: { total: 1e308 } },
        ]);
        const { body, headers } = await signedWithResource(plaintext, `EV-EVT-${n++}`, { eventType, aad: eventType.startsWith("REFUND") ? "refund" : "transaction" });
        const before = await dbSnapshot();
        const a = await send(w, "POST", PATH, { body, contentType: "application/json" }, headers);
        if (a.status !== 204) {
          expectNotifyFailure(a, [400], `${eventType.slice(0, 20)} ${JSON.stringify(plaintext).slice(0, 60)}`);
          expect(await dbSnapshot()).toEqual(before);
        }
      }
    }
    expect((await getOrder(w, pending.token, pending.order.id)).status).toBe("PAYING");
  });

  it("the genuine notification still pays the order afterwards", async () => {
    await w.sim.flush();
    expect((await getOrder(w, pending.token, pending.order.id)).status).toBe("PAID");
    // And an order nobody paid is untouched by all of the above.
    const u = await w.login();
    const fresh = (await placeOrder(w, u.token)).order;
    expect((await getOrder(w, u.token, fresh.id)).status).toBe("PAYING");
  });
});

describe("hostile: secrets", () => {
  it("no secret (keys, tokens, session keys, decrypted bodies) in any answer or log line of this file", () => {
    expect(NOTIFY_URL).toContain(PATH);
    expect(PLATFORM1_SERIAL).toBeTruthy();
    watch.expectNoLeak({ responses: 400, logs: 300, sessionKeys: 3, notifications: 2 });
  });
});

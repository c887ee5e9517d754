/**
 * Hostile input, the WeChat server-API routes (SPEC §9): POST /v1/users/me/phone,
 * POST /v1/users/me/open-data and POST /admin/orders/{id}/shipping. Generated malformed bodies
 * and headers → a documented 4xx in the error envelope, nothing written (but the rate-limit
 * counter) and nothing asked of WeChat; at the end every answer and log line is scanned for
 * tokens, secrets, phone numbers, checksession signatures and decrypted open data.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as keys from "../fixtures/keys";
import { dbSnapshot, envelopeCases, expectApiError, mutateBody, Rng, SecretWatch, send } from "../support/hostile";
import { paidAtWechat } from "../support/shop";
import { createWorld, type World } from "../support/world";

const SEED = 0x5eed13;
let w: World;
let watch: SecretWatch;
let user: { token: string; openid: string; userId: string };
let paidOrderId: string;
let sealed: { encryptedData: string; iv: string };

const wxCalls = (path: string) => w.sim.stats().calls[`POST ${path}`] ?? 0;

beforeAll(async () => {
  w = createWorld({ env: { LOGIN_RATE_LIMIT: "0", ORDER_RATE_LIMIT: "0" } });
  watch = new SecretWatch(w);
  const j = await paidAtWechat(w);
  await w.sim.flush();
  user = j.user;
  paidOrderId = j.order.id;
  // One real phone number, so the scan has one to look for.
  const { code } = w.sim.wx.mintPhoneCode({ openid: user.openid, purePhoneNumber: "13912345678" });
  expect((await w.request("POST", "/v1/users/me/phone", { json: { code }, token: user.token })).status).toBe(200);
  // One real decryption and one checksession (a damaged payload), so the scan has both to look for.
  sealed = await w.sim.wx.openData({ openid: user.openid, data: { openGId: "GgOpenGroup-7f3a9c" } });
  expect((await w.request("POST", "/v1/users/me/open-data", { json: sealed, token: user.token })).status).toBe(200);
  const damaged = { ...sealed, iv: sealed.iv.replace(/^./, (c) => (c === "A" ? "B" : "A")) };
  expect((await w.request("POST", "/v1/users/me/open-data", { json: damaged, token: user.token })).status).toBe(400);
});

describe("hostile: POST /v1/users/me/phone", () => {
  it("malformed bodies → 400/401/413/415/429 envelope; only the rate-limit counter written; WeChat asked only for well-formed codes", async () => {
    const rng = new Rng(SEED);
    const cases = [...mutateBody({ code: "0a1b2c3d" }, rng, 150), ...envelopeCases({ code: 1 })];
    const before = await dbSnapshot(["rate_limits"]);
    const calls = wxCalls("/wxa/business/getuserphonenumber");
    let wellFormed = 0;
    for (const c of cases) {
      const a = await send(w, "POST", "/v1/users/me/phone", c, { authorization: `Bearer ${user.token}` });
      expectApiError(a, [400, 401, 413, 415, 429], `phone ${c.label}`);
      if (a.status === 400 && a.body.includes("invalid_code")) wellFormed++;
    }
    expect(await dbSnapshot(["rate_limits"])).toEqual(before);
    expect(wxCalls("/wxa/business/getuserphonenumber") - calls).toBe(wellFormed);
  });
});

describe("hostile: POST /v1/users/me/open-data", () => {
  it("malformed bodies → 400/401/413/415/429 envelope; only the rate-limit counter written; WeChat asked only about well-formed payloads", async () => {
    const rng = new Rng(SEED + 2);
    const cases = [...mutateBody(sealed, rng, 150), ...envelopeCases({ encryptedData: 1, iv: 2 })];
    const before = await dbSnapshot(["rate_limits"]);
    const checks = () => w.sim.stats().calls["GET /wxa/checksession"] ?? 0;
    const calls = checks();
    let asked = 0;
    for (const c of cases) {
      const a = await send(w, "POST", "/v1/users/me/open-data", c, { authorization: `Bearer ${user.token}` });
      // A mutation may leave a well-formed payload: it decrypts (200) or is undecryptable after a checksession.
      if (a.status === 200) continue;
      expectApiError(a, [400, 401, 413, 415, 429], `open-data ${c.label}`);
      if (a.body.includes("undecryptable") || a.body.includes("session_stale") || a.body.includes("rate_limited")) asked++;
    }
    expect(await dbSnapshot(["rate_limits"])).toEqual(before);
    expect(checks() - calls).toBeLessThanOrEqual(asked);
  });
});

describe("hostile: POST /admin/orders/{id}/shipping", () => {
  it("malformed bodies and keys → 400/401/404/409/413/415 envelope, nothing written, nothing uploaded", async () => {
    const rng = new Rng(SEED + 1);
    const valid = { logisticsType: "express", parcels: [{ trackingNo: "SF1234567890", expressCompany: "YTO" }] };
    const cases = [...mutateBody(valid, rng, 200), ...envelopeCases({ logisticsType: 1 })];
    const before = await dbSnapshot(["rate_limits"]);
    const uploads = wxCalls("/wxa/sec/order/upload_shipping_info");
    for (const c of cases) {
      // Without an Idempotency-Key (required) every case is refused whatever the body.
      const headers: Record<string, string> = { authorization: `Bearer ${keys.ADMIN_TOKEN}` };
      if (rng.chance(0.2)) headers["idempotency-key"] = rng.pick(["", " ", "k".repeat(200), "ünï"]);
      const a = await send(w, "POST", `/admin/orders/${rng.pick([paidOrderId, "ord_nope", "%00"])}/shipping`, c, headers);
      expectApiError(a, [400, 401, 404, 409, 413, 415], `shipping ${c.label}`);
    }
    expect(await dbSnapshot(["rate_limits"])).toEqual(before);
    expect(wxCalls("/wxa/sec/order/upload_shipping_info")).toBe(uploads);
  });
});

describe("hostile: secrets", () => {
  it("no access token, AppSecret, phone number or other secret in any answer or log line", () => {
    expect(watch.accessTokens.size).toBeGreaterThan(0);
    expect(watch.phones.size).toBe(1);
    expect(watch.sessionSignatures.size).toBe(1);
    expect(watch.openData.has("GgOpenGroup-7f3a9c")).toBe(true);
    watch.expectNoLeak({ responses: 100, logs: 10 });
  });
});

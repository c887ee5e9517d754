/**
 * Hostile input, the admin API: GET /admin/orders, GET /admin/orders/:id,
 * POST /admin/orders/:id/refunds, GET /admin/refunds/:id, POST /admin/reconcile,
 * GET /admin/bills/:date. Forged admin credentials, generated malformed refund bodies, odd ids,
 * bad query params (status=FOO, limit=-1, cursor=garbage) → only the documented 4xx in the error
 * envelope, never a 5xx, nothing written, no WeChat call. Then a secret scan of everything.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import * as keys from "../fixtures/keys";
import {
  envelopeCases,
  expectApiError,
  mutateBody,
  oddQueryValues,
  ODD_IDS,
  Rng,
  SecretWatch,
  send,
  type JsonPath,
  untouched,
} from "../support/hostile";
import { paidAtWechat, placeOrder, type OrderJson } from "../support/shop";
import { createWorld, type World } from "../support/world";

const SEED = 0x5eed04;
const JSON_CT = "application/json";
const ADMIN = { authorization: `Bearer ${keys.ADMIN_TOKEN}` };

let w: World;
let watch: SecretWatch;
let userToken: string;
let payerId: string;
let paid: OrderJson;
let paying: OrderJson;
let refundId: string;

beforeAll(async () => {
  w = createWorld({ env: { LOGIN_RATE_LIMIT: "0", ORDER_RATE_LIMIT: "0" } });
  watch = new SecretWatch(w);
  const j = await paidAtWechat(w);
  await w.sim.flush();
  paid = j.order;
  userToken = j.user.token;
  payerId = j.user.userId;
  paying = (await placeOrder(w, userToken)).order;
  const r = await w.request("POST", `/admin/orders/${paid.id}/refunds`, { json: { amount: 100, reason: "hostile suite" }, headers: { ...ADMIN, "idempotency-key": "hostile-setup" } });
  expect(r.status).toBe(201);
  refundId = ((await r.json()) as { refund: { id: string } }).refund.id;
});

function adminHeaders(): { label: string; header: string | null }[] {
  const t = keys.ADMIN_TOKEN;
  return [
    { label: "missing", header: null },
    { label: "empty", header: "" },
    { label: "Bearer only", header: "Bearer" },
    { label: "token without scheme", header: t },
    { label: "lower-case scheme", header: `bearer ${t}` },
    { label: "Basic", header: `Basic ${btoa(`admin:${t}`)}` },
    { label: "prefix", header: `Bearer ${t.slice(0, -1)}` },
    { label: "one char longer", header: `Bearer ${t}x` },
    { label: "last char changed", header: `Bearer ${t.slice(0, -1)}${t.endsWith("a") ? "b" : "a"}` },
    { label: "same length, wrong", header: `Bearer ${"x".repeat(t.length)}` },
    { label: "upper-cased", header: `Bearer ${t.toUpperCase()}` },
    { label: "two tokens", header: `Bearer ${t} ${t}` },
    { label: "huge", header: `Bearer ${"A".repeat(10_000)}` },
    { label: "a user's session token", header: `Bearer ${userToken}` },
    { label: "SESSION_SECRET", header: `Bearer ${keys.SESSION_SECRET}` },
    { label: "APIv3 key", header: `Bearer ${keys.APIV3_KEY}` },
  ];
}

describe("hostile: admin credentials", () => {
  it("every admin route with forged, partial or missing credentials → 401, nothing written", async () => {
    const routes: [string, string, string | null][] = [
      ["GET", "/admin/orders", null],
      ["GET", "/admin/orders?status=PAID", null],
      ["GET", `/admin/orders/${paid.id}`, null],
      ["POST", `/admin/orders/${paid.id}/refunds`, JSON.stringify({ amount: 1 })],
      ["GET", `/admin/refunds/${refundId}`, null],
      ["POST", "/admin/reconcile", null],
      ["GET", "/admin/bills/2026-11-28", null],
      ["POST", `/admin/users/${payerId}/revoke-sessions`, null],
      ["GET", "/admin/stats", null],
      ["GET", "/admin/orders.csv", null],
      ["GET", "/admin/flags", null],
      ["POST", "/admin/flags/1/resolve", JSON.stringify({ note: "x" })],
      ["GET", "/admin/products", null],
      ["POST", "/admin/products", JSON.stringify({ name: "x", price: 1 })],
      ["PATCH", "/admin/products/prod_coffee", JSON.stringify({ price: 1 })],
      ["GET", "/admin/reconcile/runs", null],
    ];
    // Failed authentications are counted per address (rate_limits; 429 past 20 a minute): each
    // route's 16 forgeries come from an address of their own.
    await untouched(w, async () => {
      for (const [i, [method, path, body]] of routes.entries()) {
        for (const h of adminHeaders()) {
          const headers: Record<string, string> = { "cf-connecting-ip": `198.18.0.${i + 1}` };
          if (h.header !== null) headers.authorization = h.header;
          const a = await send(w, method, path, { body, contentType: body ? JSON_CT : null }, headers);
          expectApiError(a, [401], `${method} ${path} with ${h.label}`);
          expect(JSON.parse(a.body).error.code).toBe("unauthorized");
        }
      }
    }, { exclude: ["rate_limits"] });
    // The user's session survived every forged revoke.
    expect((await w.request("GET", "/v1/orders", { token: userToken })).status).toBe(200);
  });

  it("past 20 forgeries from one address: 429 for every admin route, the right token included, and nothing more is written", async () => {
    const ip = "198.18.1.1";
    for (let i = 0; i < 20; i++) {
      const a = await send(w, "GET", "/admin/orders", { body: null, contentType: null }, { "cf-connecting-ip": ip, authorization: `Bearer forged-${i}` });
      expectApiError(a, [401], `forgery ${i}`);
    }
    await untouched(w, async () => {
      for (const [method, path] of [["GET", "/admin/orders"], ["POST", `/admin/users/${payerId}/revoke-sessions`], ["POST", "/admin/reconcile"]] as const) {
        for (const auth of [`Bearer forged-x`, `Bearer ${keys.ADMIN_TOKEN}`]) {
          const a = await send(w, method, path, { body: null, contentType: null }, { "cf-connecting-ip": ip, authorization: auth });
          expectApiError(a, [429], `${method} ${path} throttled`);
          expect(Number(a.headers.get("retry-after"))).toBeGreaterThan(0);
        }
      }
    });
  });
});

describe("hostile: POST /admin/users/:id/revoke-sessions", () => {
  it("odd ids → 400/404/405, nothing written; bodies and query strings are ignored", async () => {
    await untouched(w, async () => {
      for (const id of [...ODD_IDS, "usr_NOPE", "%25", "x".repeat(65), encodeURIComponent("' OR 1=1 --"), encodeURIComponent("% OR openid LIKE '%")]) {
        const a = await send(w, "POST", `/admin/users/${id}/revoke-sessions`, { body: null, contentType: null }, ADMIN);
        expectApiError(a, [400, 404, 405], `revoke ${id.slice(0, 80)}`);
      }
      for (const method of ["GET", "PUT", "DELETE"]) {
        const a = await send(w, method, `/admin/users/${payerId}/revoke-sessions`, { body: null, contentType: null }, ADMIN);
        expectApiError(a, [404, 405], `${method} revoke`);
      }
    });
    expect((await w.request("GET", "/v1/orders", { token: userToken })).status).toBe(200);
    // A body (even a huge or malformed one) changes nothing about what is revoked.
    const a = await send(w, "POST", `/admin/users/${payerId}/revoke-sessions?id=usr_OTHER`, { body: "{not json", contentType: JSON_CT }, ADMIN);
    expect(a.status).toBe(204);
    expect((await w.request("GET", "/v1/orders", { token: userToken })).status).toBe(401);
  });
});

describe("hostile: POST /admin/orders/:id/refunds", () => {
  it("generated malformed refund bodies → 400/413/415 (or 409 above the headroom), nothing written, WeChat not called", async () => {
    const rng = new Rng(SEED);
    const valid = { amount: 50, reason: "damaged" };
    // A positive integer amount is a valid refund (409 above the headroom, 201 below): skip the
    // ones that would succeed; any reason of at most 80 bytes is valid too.
    const acceptable = (p: JsonPath, v: unknown) =>
      (p[0] === "amount" && typeof v === "number" && Number.isSafeInteger(v) && v > 0 && v <= paid.amount) ||
      (p[0] === "reason" && typeof v === "string" && new TextEncoder().encode(v.trim()).length <= 80);
    const optional = (p: JsonPath) => p[0] === "reason";
    const cases = [...mutateBody(valid, rng, 200, { acceptable, optional }), ...envelopeCases({ amount: -1 })];
    await untouched(w, async () => {
      for (const [i, c] of cases.entries()) {
        const a = await send(w, "POST", `/admin/orders/${paid.id}/refunds`, c, { ...ADMIN, "idempotency-key": `hostile-body-${i}` });
        expectApiError(a, [400, 409, 413, 415], `refund ${c.label}`);
      }
    });
  });

  it("no Idempotency-Key (SPEC §8: a retry could refund twice) → 400 invalid_request, nothing stored, nothing sent", async () => {
    await untouched(w, async () => {
      for (const body of [{ amount: 1 }, { amount: 50, reason: "damaged" }]) {
        const a = await send(w, "POST", `/admin/orders/${paid.id}/refunds`, { body: JSON.stringify(body), contentType: JSON_CT }, ADMIN);
        expectApiError(a, [400], `refund without Idempotency-Key ${JSON.stringify(body)}`);
        expect(JSON.parse(a.body).error).toMatchObject({ code: "invalid_request", message: expect.stringMatching(/idempotency-key/i) });
      }
    });
  });

  it("well-formed but impossible refunds → 400/404/409, nothing written", async () => {
    const cases: [string, string, unknown, number][] = [
      ["above the amount paid", paid.id, { amount: paid.amount }, 409],
      ["far above", paid.id, { amount: 2 ** 52 }, 409],
      ["unsafe integer", paid.id, { amount: 2 ** 53 + 2 }, 400],
      ["zero", paid.id, { amount: 0 }, 400],
      ["reason of 81 bytes", paid.id, { amount: 1, reason: "x".repeat(81) }, 400],
      ["reason of 30 CJK characters (90 bytes)", paid.id, { amount: 1, reason: "退".repeat(30) }, 400],
      ["unpaid order", paying.id, { amount: 1 }, 409],
      ["unknown order", "ord_NOPE", { amount: 1 }, 404],
      ["another field", paid.id, { amount: 1, orderId: paying.id }, 400],
      ["client-chosen out_refund_no", paid.id, { amount: 1, outRefundNo: "RF1" }, 400],
    ];
    await untouched(w, async () => {
      for (const [i, [label, id, body, status]] of cases.entries()) {
        const a = await send(w, "POST", `/admin/orders/${id}/refunds`, { body: JSON.stringify(body), contentType: JSON_CT }, { ...ADMIN, "idempotency-key": `hostile-impossible-${i}` });
        expectApiError(a, [status], `refund ${label}`);
      }
      for (const key of ["", " ", "a b", "x".repeat(129)]) {
        const a = await send(w, "POST", `/admin/orders/${paid.id}/refunds`, { body: JSON.stringify({ amount: 1 }), contentType: JSON_CT }, { ...ADMIN, "idempotency-key": key });
        expectApiError(a, [400], `refund with Idempotency-Key ${JSON.stringify(key)}`);
      }
    });
  });
});

describe("hostile: admin reads and odd params", () => {
  it("list: status=FOO, limit=-1, cursor=garbage and friends → 400", async () => {
    const bad = ["status=FOO", "status=paid", "status=", "status=PAID,CLOSED", "limit=-1", "limit=0", "limit=101", "limit=1.5", "limit=x", "cursor=garbage", "cursor=", `cursor=${"x".repeat(201)}`];
    await untouched(w, async () => {
      for (const q of bad) {
        const a = await send(w, "GET", `/admin/orders?${q}`, { body: null, contentType: null }, ADMIN);
        expectApiError(a, [400], `admin list ?${q}`);
      }
    });
  });

  it("generated query strings on the admin list → 200 or 400, nothing written", async () => {
    const rng = new Rng(SEED + 1);
    const values = oddQueryValues(rng);
    await untouched(w, async () => {
      for (let i = 0; i < 80; i++) {
        const q = Array.from({ length: rng.int(1, 3) }, () => `${rng.pick(["limit", "cursor", "status", "x"])}=${rng.pick([...values, "PAID", "CLOSED"])}`).join("&");
        const a = await send(w, "GET", `/admin/orders?${q}`, { body: null, contentType: null }, ADMIN);
        if (a.status !== 200) expectApiError(a, [400], `admin list ?${q}`);
      }
    });
  });

  it("odd ids and dates on every admin path → 400/404, nothing written", async () => {
    await untouched(w, async () => {
      for (const id of ODD_IDS) {
        for (const [method, path, body] of [
          ["GET", `/admin/orders/${id}`, null],
          ["GET", `/admin/refunds/${id}`, null],
          ["POST", `/admin/orders/${id}/refunds`, JSON.stringify({ amount: 1 })],
          ["GET", `/admin/bills/${id}`, null],
        ] as const) {
          const a = await send(w, method, path, { body, contentType: body ? JSON_CT : null }, ADMIN);
          expectApiError(a, [400, 404, 405], `${method} ${path.slice(0, 80)}`);
        }
      }
      for (const d of ["2026-13-45", "26-11-28", "2026-11-28T00:00", "20261128", "yesterday"]) {
        const a = await send(w, "GET", `/admin/bills/${d}`, { body: null, contentType: null }, ADMIN);
        // 2026-13-45 has the shape but is no calendar date: refused like any other malformed date.
        expectApiError(a, d === "2026-13-45" ? [400] : [400, 404], `bills ${d}`);
      }
    });
  });

  it("POST /admin/reconcile with a malformed or impossible billDate → 400, nothing written (no run, no bill attempt)", async () => {
    await untouched(w, async () => {
      for (const d of ["FOO", "2026-11-28x", "", "9999-99-99'", "%00", "2026-13-45", "0000-00-00", "2026-02-29", "2026-11-31"]) {
        const a = await send(w, "POST", `/admin/reconcile?billDate=${d}`, { body: null, contentType: null }, ADMIN);
        expectApiError(a, [400], `reconcile billDate=${d}`);
      }
    });
    const a = await send(w, "POST", `/admin/reconcile?billDate=9999-12-31`, { body: null, contentType: null }, ADMIN);
    expect(a.status).toBe(200);
  });
});

describe("hostile: the console's JSON API", () => {
  it("generated malformed product and flag bodies → 400/404/409/413/415, nothing written", async () => {
    const flag = await env.DB.prepare("INSERT INTO flags (order_id, kind, detail, at) VALUES (NULL, 'hostile', '{}', 0) RETURNING id").first<{ id: number }>();
    const rng = new Rng(SEED + 2);
    const validProduct = { id: "prod_hostile", name: "Hostile", description: "d", price: 100, active: true, sort: 1 };
    const productOk = (p: JsonPath, v: unknown) =>
      (p[0] === "name" && typeof v === "string" && v.trim().length >= 1 && v.trim().length <= 60) ||
      (p[0] === "description" && typeof v === "string" && v.trim().length <= 300) ||
      (p[0] === "price" && Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 100_000_000) ||
      (p[0] === "sort" && Number.isSafeInteger(v) && Math.abs(v as number) <= 1_000_000) ||
      (p[0] === "active" && typeof v === "boolean") ||
      (p[0] === "id" && typeof v === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(v));
    const optional = (p: JsonPath) => p[0] !== "name" && p[0] !== "price";
    await untouched(w, async () => {
      for (const c of [...mutateBody(validProduct, rng, 150, { acceptable: productOk, optional }), ...envelopeCases({ price: -1 })]) {
        expectApiError(await send(w, "POST", "/admin/products", c, ADMIN), [400, 409, 413, 415], `create ${c.label}`);
      }
      for (const c of [...mutateBody({ price: 100 }, rng, 60, { acceptable: productOk }), ...envelopeCases({ price: 0 })]) {
        expectApiError(await send(w, "PATCH", "/admin/products/prod_coffee", c, ADMIN), [400, 413, 415], `patch ${c.label}`);
      }
      const noteOk = (p: JsonPath, v: unknown) => p[0] === "note" && typeof v === "string" && v.trim().length >= 1 && v.length <= 500;
      for (const c of [...mutateBody({ note: "x" }, rng, 60, { acceptable: noteOk }), ...envelopeCases({ note: "" })]) {
        expectApiError(await send(w, "POST", `/admin/flags/${flag!.id}/resolve`, c, ADMIN), [400, 413, 415], `resolve ${c.label}`);
      }
      for (const id of ODD_IDS) {
        expectApiError(await send(w, "PATCH", `/admin/products/${id}`, { body: '{"price":5}', contentType: JSON_CT }, ADMIN), [400, 404], `patch ${id.slice(0, 40)}`);
        expectApiError(await send(w, "POST", `/admin/flags/${id}/resolve`, { body: '{"note":"x"}', contentType: JSON_CT }, ADMIN), [400, 404], `resolve ${id.slice(0, 40)}`);
      }
    });
  });

  it("odd filters on stats, CSV, flags and runs → 200 or 400, never 5xx, nothing written", async () => {
    const rng = new Rng(SEED + 3);
    const values = oddQueryValues(rng);
    await untouched(w, async () => {
      for (let i = 0; i < 120; i++) {
        const [path, keys] = rng.pick([
          ["/admin/stats", ["days"]],
          ["/admin/orders.csv", ["status", "q", "from", "to"]],
          ["/admin/orders", ["q", "from", "to"]],
          ["/admin/flags", ["status", "limit", "cursor"]],
          ["/admin/reconcile/runs", ["limit", "cursor"]],
        ] as const);
        const q = Array.from({ length: rng.int(1, 3) }, () => `${rng.pick(keys)}=${rng.pick(values)}`).join("&");
        const a = await send(w, "GET", `${path}?${q}`, { body: null, contentType: null }, ADMIN);
        if (a.status !== 200) expectApiError(a, [400], `${path}?${q}`);
      }
    });
  });

  it("forged console cookies never authenticate, never write", async () => {
    const forged = ["wxe_console=", "wxe_console=x", `wxe_console=${"A".repeat(24)}.9999999999999.${"A".repeat(43)}`, `wxe_console=${keys.ADMIN_TOKEN}`, `wxe_console=${"A".repeat(5000)}`];
    // Each refusal of the JSON API counts as a failed admin authentication (rate_limits): that
    // counter is the one write expected.
    await untouched(
      w,
      async () => {
        for (const cookie of forged) {
          const ip = { "cf-connecting-ip": "198.18.9.9" };
          expectApiError(await send(w, "GET", "/admin/orders", { body: null, contentType: null }, { cookie, ...ip }), [401], `cookie ${cookie.slice(0, 40)}`);
          const page = await send(w, "GET", "/admin/ui/overview", { body: null, contentType: null }, { cookie, ...ip });
          expect(page.status, cookie.slice(0, 40)).toBe(303);
        }
      },
      { exclude: ["rate_limits"] },
    );
  });
});

describe("hostile: secrets", () => {
  it("no secret in any answer or log line of this file (admin answers included)", async () => {
    // A real admin detail and a reconcile run, so their answers are part of the scan too.
    expect((await w.request("GET", `/admin/orders/${paid.id}`, { headers: ADMIN })).status).toBe(200);
    expect((await w.request("POST", "/admin/reconcile", { headers: ADMIN })).status).toBe(200);
    watch.expectNoLeak({ responses: 300, logs: 100, sessionKeys: 1, notifications: 1 });
  });
});

/**
 * Hostile input, the mini-program order API: POST /v1/orders, POST /v1/orders/:id/pay,
 * GET /v1/orders/:id, GET /v1/orders, POST /v1/orders/:id/cancel. Generated malformed bodies,
 * forged/expired/alg-none tokens, another user's ids, odd path params and query strings →
 * only the documented 4xx in the error envelope, never a 5xx, nothing written, no WeChat call
 * for a request that fails validation or ownership. Then a secret scan of everything.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { unixSeconds } from "../../src/lib/clock";
import {
  envelopeCases,
  expectApiError,
  forgedTokens,
  mutateBody,
  oddQueryValues,
  ODD_IDS,
  Rng,
  SecretWatch,
  send,
  type Answer,
  type JsonPath,
  untouched,
} from "../support/hostile";
import { placeOrder, type OrderJson } from "../support/shop";
import { createWorld, type World } from "../support/world";

const SEED = 0x5eed02;
const PRODUCTS = new Set(["prod_coffee", "prod_tea", "prod_mooncake", "prod_tote", "prod_cent"]);
const VALID_ORDER = { items: [{ productId: "prod_coffee", quantity: 2 }, { productId: "prod_tea", quantity: 1 }] };
const JSON_CT = "application/json";

let w: World;
let watch: SecretWatch;
let alice: { token: string; userId: string; openid: string };
let bob: { token: string; userId: string; openid: string };
/** Alice's orders: one PAYING, one PAID, one CLOSED. */
let paying: OrderJson;
let paid: OrderJson;
let closed: OrderJson;

beforeAll(async () => {
  w = createWorld({ env: { LOGIN_RATE_LIMIT: "0", ORDER_RATE_LIMIT: "0" } });
  watch = new SecretWatch(w);
  alice = await w.login();
  bob = await w.login();
  paying = (await placeOrder(w, alice.token)).order;
  const p = await placeOrder(w, alice.token, [{ productId: "prod_tea", quantity: 1 }]);
  expect((await w.sim.pay(p.payment, { openid: alice.openid })).ok).toBe(true);
  await w.sim.flush();
  paid = p.order;
  closed = (await placeOrder(w, alice.token, [{ productId: "prod_tote", quantity: 1 }])).order;
  const c = await w.request("POST", `/v1/orders/${closed.id}/cancel`, { token: alice.token });
  expect(c.status).toBe(200);
  // Bob has an order too, so "his list" is not trivially empty.
  await placeOrder(w, bob.token);
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const noBody = { body: null, contentType: null };

/** A generated value that would make a valid order (skipped by the generator). */
function acceptable(path: JsonPath, v: unknown): boolean {
  const last = path[path.length - 1];
  if (last === "quantity") return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 99;
  if (last === "productId") return typeof v === "string" && PRODUCTS.has(v);
  return false;
}

describe("hostile: POST /v1/orders", () => {
  const ALLOWED = [400, 413, 415];

  it("generated malformed bodies → 400/413/415 envelope, nothing written, no prepay", async () => {
    const rng = new Rng(SEED);
    // Removing one of the two lines leaves a valid one-line order: that deletion is not a malformation.
    const optional = (p: JsonPath) => p.length === 2 && p[0] === "items";
    const cases = [...mutateBody(VALID_ORDER, rng, 300, { acceptable, optional }), ...envelopeCases({ items: [] })];
    expect(cases.length).toBeGreaterThan(300);
    const statuses = new Map<number, number>();
    await untouched(w, async () => {
      for (const c of cases) {
        const a = await send(w, "POST", "/v1/orders", c, bearer(alice.token));
        expectApiError(a, ALLOWED, `create ${c.label}`);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      }
    });
    // The generator reached every kind of rejection.
    expect([...statuses.keys()].sort()).toEqual([400, 413, 415]);
  });

  it("well-formed but unacceptable orders → 400 invalid_request, nothing written", async () => {
    const line = (productId: string, quantity = 1) => ({ productId, quantity });
    const bodies: [string, unknown][] = [
      ["inactive product", { items: [line("prod_retired")] }],
      ["unknown product", { items: [line("prod_nope")] }],
      ["product id in other case", { items: [line("PROD_COFFEE")] }],
      ["product id with whitespace", { items: [line(" prod_coffee")] }],
      ["product id with NUL", { items: [line("prod_coffee\u0000")] }],
      ["same product twice", { items: [line("prod_coffee"), line("prod_coffee", 2)] }],
      ["21 lines", { items: Array.from({ length: 21 }, (_, i) => line(`prod_${i}`)) }],
      ["1500 lines", { items: Array.from({ length: 1500 }, (_, i) => line(`p${i}`)) }],
      ["quantity 0", { items: [line("prod_coffee", 0)] }],
      ["quantity 100", { items: [line("prod_coffee", 100)] }],
      ["quantity -1", { items: [line("prod_coffee", -1)] }],
      ["quantity 1.5", { items: [line("prod_coffee", 1.5)] }],
      ["quantity 2^53", { items: [line("prod_coffee", 2 ** 53)] }],
      ["quantity as string", { items: [{ productId: "prod_coffee", quantity: "2" }] }],
      ["client-supplied price", { items: [{ productId: "prod_coffee", quantity: 1, unitPrice: 1 }] }],
      ["client-supplied amount", { items: [line("prod_coffee")], amount: 1 }],
      ["client-supplied openid", { items: [line("prod_coffee")], openid: bob.openid }],
      ["items as object", { items: { 0: line("prod_coffee") } }],
      ["no items", {}],
      ["empty items", { items: [] }],
    ];
    await untouched(w, async () => {
      for (const [label, body] of bodies) {
        const a = await send(w, "POST", "/v1/orders", { body: JSON.stringify(body), contentType: JSON_CT }, bearer(alice.token));
        expectApiError(a, [400], `create ${label}`);
        expect(JSON.parse(a.body).error.code).toBe("invalid_request");
      }
    });
  });

  it("a valid body with a malformed Idempotency-Key → 400, nothing written", async () => {
    const badKeys = ["", " ", "a b", "x".repeat(129), "\t", "key\u007f"];
    await untouched(w, async () => {
      for (const key of badKeys) {
        const a = await send(w, "POST", "/v1/orders", { body: JSON.stringify(VALID_ORDER), contentType: JSON_CT }, { ...bearer(alice.token), "idempotency-key": key });
        // An empty header value is indistinguishable from none for some clients: then it is a plain create.
        if (key.trim() === "" && a.status === 201) throw new Error(`empty Idempotency-Key ${JSON.stringify(key)} created an order`);
        expectApiError(a, [400], `Idempotency-Key ${JSON.stringify(key)}`);
      }
    });
  });

  it("a valid body with a non-JSON content type → 415 (or 400), nothing written", async () => {
    await untouched(w, async () => {
      for (const ct of [null, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/jsonx"]) {
        const a = await send(w, "POST", "/v1/orders", { body: JSON.stringify(VALID_ORDER), contentType: ct }, bearer(alice.token));
        expectApiError(a, [400, 415], `create as ${ct}`);
      }
    });
  });
});

describe("hostile: tokens on every authenticated route", () => {
  it("missing, malformed, forged, alg-none, HS512, wrong-key, expired and tampered tokens → 401, nothing written", async () => {
    const tokens = await forgedTokens(alice.token, unixSeconds(w.clock));
    expect(tokens.length).toBeGreaterThan(20);
    const routes: [string, string, string | null][] = [
      ["POST", "/v1/orders", JSON.stringify(VALID_ORDER)],
      ["POST", `/v1/orders/${paying.id}/pay`, null],
      ["GET", `/v1/orders/${paying.id}`, null],
      ["GET", `/v1/orders/${paying.id}?sync=true`, null],
      ["GET", "/v1/orders", null],
      ["GET", "/v1/orders?limit=5", null],
      ["POST", `/v1/orders/${paying.id}/cancel`, null],
    ];
    await untouched(w, async () => {
      for (const [method, path, body] of routes) {
        for (const t of tokens) {
          const headers: Record<string, string> = t.header === null ? {} : { authorization: t.header };
          const a = await send(w, method, path, { body, contentType: body ? JSON_CT : null }, headers);
          expectApiError(a, [401], `${method} ${path} with ${t.label} token`);
          expect(JSON.parse(a.body).error.code).toBe("unauthorized");
        }
      }
    });
  });

  it("an expired session (the clock moved past exp) → 401 on every route", async () => {
    const other = createWorld();
    const u = await other.login();
    other.clock.advance(7200_000);
    for (const [method, path] of [["GET", "/v1/orders"], ["POST", "/v1/orders/ord_X/pay"], ["GET", "/v1/orders/ord_X"]] as const) {
      const a = await send(other, method, path, noBody, bearer(u.token));
      expectApiError(a, [401], `${method} ${path} expired`);
    }
  });
});

describe("hostile: another user's orders", () => {
  it("Bob cannot read, sync, pay or cancel Alice's orders: 404, nothing written, WeChat not called", async () => {
    await untouched(w, async () => {
      for (const o of [paying, paid, closed]) {
        for (const [method, path] of [
          ["GET", `/v1/orders/${o.id}`],
          ["GET", `/v1/orders/${o.id}?sync=true`],
          ["POST", `/v1/orders/${o.id}/pay`],
          ["POST", `/v1/orders/${o.id}/cancel`],
          // the outTradeNo is not an id either
          ["GET", `/v1/orders/${o.outTradeNo}`],
          ["POST", `/v1/orders/${o.outTradeNo}/cancel`],
        ] as const) {
          const a = await send(w, method, path, noBody, bearer(bob.token));
          expectApiError(a, [404], `bob ${method} ${path}`);
          expect(JSON.parse(a.body).error.code).toBe("not_found");
        }
      }
    });
    // Bob's list never shows Alice's orders.
    const list = (await (await w.request("GET", "/v1/orders?limit=100", { token: bob.token })).json()) as { orders: OrderJson[] };
    expect(list.orders.map((o) => o.id)).not.toContain(paying.id);
  });

  it("Bob reusing Alice's Idempotency-Key gets his own order, never hers", async () => {
    const key = "shared-key-0001";
    const first = await send(w, "POST", "/v1/orders", { body: JSON.stringify(VALID_ORDER), contentType: JSON_CT }, { ...bearer(alice.token), "idempotency-key": key });
    expect(first.status).toBe(201);
    const hers = (JSON.parse(first.body) as { order: OrderJson }).order;
    const second = await send(w, "POST", "/v1/orders", { body: JSON.stringify(VALID_ORDER), contentType: JSON_CT }, { ...bearer(bob.token), "idempotency-key": key });
    expect(second.status).toBe(201);
    const his = (JSON.parse(second.body) as { order: OrderJson }).order;
    expect(his.id).not.toBe(hers.id);
    expect(his.outTradeNo).not.toBe(hers.outTradeNo);
    const bobGetsHers = await send(w, "GET", `/v1/orders/${hers.id}`, noBody, bearer(bob.token));
    expectApiError(bobGetsHers, [404], "bob reads alice's order after the key collision");
  });

  it("Alice's own terminal orders: pay/cancel a PAID order, pay a CLOSED one → 409, nothing written", async () => {
    await untouched(w, async () => {
      for (const [method, path] of [
        ["POST", `/v1/orders/${paid.id}/pay`],
        ["POST", `/v1/orders/${paid.id}/cancel`],
        ["POST", `/v1/orders/${closed.id}/pay`],
      ] as const) {
        const a = await send(w, method, path, noBody, bearer(alice.token));
        expectApiError(a, [409], `alice ${method} ${path}`);
        expect(JSON.parse(a.body).error.code).toBe("order_not_payable");
      }
    });
  });
});

describe("hostile: path params and query strings", () => {
  it("odd order ids on pay, get, sync and cancel → 400/404 envelope, nothing written", async () => {
    await untouched(w, async () => {
      for (const id of ODD_IDS) {
        for (const [method, path] of [
          ["GET", `/v1/orders/${id}`],
          ["GET", `/v1/orders/${id}?sync=true`],
          ["POST", `/v1/orders/${id}/pay`],
          ["POST", `/v1/orders/${id}/cancel`],
        ] as const) {
          const a = await send(w, method, path, { body: method === "POST" ? "{}" : null, contentType: JSON_CT }, bearer(alice.token));
          expectApiError(a, [400, 404, 405], `${method} ${path.slice(0, 80)}`);
        }
      }
    });
  });

  it("list: limit=-1, limit=0, limit=101, limit=1.5, limit=abc, cursor=garbage → 400", async () => {
    const bad = ["limit=-1", "limit=0", "limit=101", "limit=1.5", "limit=abc", "limit=", "limit=NaN", "limit=Infinity", "limit=99999999999999999999", "cursor=garbage", "cursor=", `cursor=${"x".repeat(201)}`, "cursor=%00", "cursor=eyJ0IjoxfQ", "cursor=null"];
    await untouched(w, async () => {
      for (const q of bad) {
        const a = await send(w, "GET", `/v1/orders?${q}`, noBody, bearer(alice.token));
        expectApiError(a, [400], `list ?${q}`);
      }
    });
  });

  it("generated query strings on list and get → 200 or 400, never 5xx, nothing written", async () => {
    const rng = new Rng(SEED + 3);
    const values = oddQueryValues(rng);
    const seen = new Set<number>();
    await untouched(w, async () => {
      for (let i = 0; i < 150; i++) {
        const q = Array.from({ length: rng.int(1, 3) }, () => `${rng.pick(["limit", "cursor", "sync", "status", "x", "limit[]", "__proto__"])}=${rng.pick(values)}`).join("&");
        const path = rng.chance(0.5) ? `/v1/orders?${q}` : `/v1/orders/${rng.pick([paid.id, closed.id])}?${q}`;
        const a: Answer = await send(w, "GET", path, noBody, bearer(alice.token));
        seen.add(a.status);
        if (a.status === 200) continue;
        expectApiError(a, [400], `GET ${path.slice(0, 100)}`);
      }
    });
    expect(seen).toContain(400);
  });
});

describe("hostile: secrets", () => {
  it("no secret in any answer or log line of this file", () => {
    watch.expectNoLeak({ responses: 500, logs: 300, sessionKeys: 2, notifications: 1 });
  });
});

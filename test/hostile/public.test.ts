/**
 * Hostile input, routes without a session: POST /v1/auth/login, GET /v1/products, GET /healthz,
 * GET /openapi.json, GET /docs, and paths/methods that do not exist. Every generated request must
 * get a documented 4xx in the error envelope (or, for the read-only GETs, a 200), never a 5xx,
 * and must write nothing. At the end every answer and log line is scanned for secrets.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  dbSnapshot,
  envelopeCases,
  expectApiError,
  expectNotifyFailure,
  mutateBody,
  oddQueryValues,
  ODD_IDS,
  Rng,
  SecretWatch,
  send,
  type Answer,
} from "../support/hostile";
import { createWorld, type World } from "../support/world";
import { APIV3_KEY, MERCHANT_PRIVATE_KEY } from "../fixtures/keys";

const SEED = 0x5eed01;

let w: World;
let watch: SecretWatch;

beforeAll(async () => {
  w = createWorld({ env: { LOGIN_RATE_LIMIT: "0" } });
  watch = new SecretWatch(w);
  // A few real logins first, so the secret scan has session keys and tokens to look for.
  for (let i = 0; i < 3; i++) await w.login();
});

async function expectNothingWritten(run: () => Promise<void>): Promise<void> {
  const before = await dbSnapshot();
  await run();
  expect(await dbSnapshot()).toEqual(before);
}

describe("hostile: POST /v1/auth/login", () => {
  // 401 invalid_code: a well-formed code WeChat does not know. 413/415: size and media type.
  const ALLOWED = [400, 401, 413, 415];

  it("generated malformed bodies → 400/401/413/415 envelope, nothing written", async () => {
    const rng = new Rng(SEED);
    const valid = { code: w.sim.mintCode().code };
    const cases = [...mutateBody(valid, rng, 220), ...envelopeCases({ code: 1 })];
    expect(cases.length).toBeGreaterThan(200);
    await expectNothingWritten(async () => {
      for (const c of cases) {
        const a = await send(w, "POST", "/v1/auth/login", c, { "cf-connecting-ip": "203.0.113.7" });
        expectApiError(a, ALLOWED, `login ${c.label}`);
      }
    });
  });

  it("codes WeChat rejects (unknown, used, expired, hostile strings) → 401 invalid_code; no user written", async () => {
    const used = w.sim.mintCode();
    await w.login(); // burns nothing of `used`
    const okRes = await send(w, "POST", "/v1/auth/login", { body: JSON.stringify({ code: used.code }), contentType: "application/json" });
    expect(okRes.status).toBe(200);
    const expired = w.sim.mintCode();
    w.clock.advance(6 * 60_000);
    const rng = new Rng(SEED + 1);
    const codes = [used.code, expired.code, "x", "0".repeat(256), "' OR 1=1 --", "${jndi:x}", "../../x", ...Array.from({ length: 20 }, () => rng.nastyString(30).replace(/[^\x21-\x7e]/g, "") || "Z")];
    const before = await dbSnapshot(["rate_limits"]);
    for (const code of codes) {
      const a = await send(w, "POST", "/v1/auth/login", { body: JSON.stringify({ code }), contentType: "application/json" });
      expectApiError(a, [400, 401], `login code ${JSON.stringify(code)}`);
      if (a.status === 401) expect(JSON.parse(a.body).error.code).toBe("invalid_code");
    }
    expect(await dbSnapshot(["rate_limits"])).toEqual(before);
  });

  it("odd client addresses and headers do not break the rate limiter", async () => {
    const limited = createWorld({ env: { LOGIN_RATE_LIMIT: "2" } });
    const lw = new SecretWatch(limited);
    for (const ip of ["", "::1", "x".repeat(2000), "1.2.3.4, 5.6.7.8", "' OR 1=1", "0:0:0:0:0:0:0:0:0:0"]) {
      for (let i = 0; i < 4; i++) {
        const a = await send(limited, "POST", "/v1/auth/login", { body: JSON.stringify({ code: "nope" }), contentType: "application/json" }, { "cf-connecting-ip": ip });
        expectApiError(a, [401, 429], `login from ${JSON.stringify(ip.slice(0, 20))}`);
        if (a.status === 429) expect(Number(a.headers.get("retry-after"))).toBeGreaterThan(0);
      }
    }
    expect(lw.scan()).toEqual([]);
  });
});

describe("hostile: read-only public routes", () => {
  it("GET /v1/products, /healthz, /openapi.json, /docs with junk queries, bodies and headers → 200, nothing written", async () => {
    const rng = new Rng(SEED + 2);
    const q = oddQueryValues(rng);
    await expectNothingWritten(async () => {
      for (const path of ["/v1/products", "/healthz", "/openapi.json", "/docs"]) {
        for (const v of q) {
          const a = await send(w, "GET", `${path}?limit=${v}&cursor=${v}&status=${v}&${v}=${v}`, { body: null, contentType: null }, {
            authorization: rng.pick(["Bearer garbage", "Basic eA==", "Bearer " + "a".repeat(5000)]),
            "content-type": rng.pick(["text/plain", "application/json", "}{"]),
            "x-forwarded-for": "127.0.0.1",
            "idempotency-key": "x".repeat(500),
          });
          expect(a.status, `${path}?${v}`).toBe(200);
          expect(a.headers.get("x-request-id")).toBeTruthy();
        }
      }
    });
  });

  it("wrong methods on every public route → 404/405 envelope, nothing written", async () => {
    await expectNothingWritten(async () => {
      for (const path of ["/v1/products", "/healthz", "/openapi.json", "/docs", "/v1/auth/login", "/v1/pay/notify"]) {
        for (const method of ["PUT", "PATCH", "DELETE", "OPTIONS", "POST", "GET"]) {
          if ((path === "/v1/auth/login" || path === "/v1/pay/notify") && method === "POST") continue;
          if (!["/v1/auth/login", "/v1/pay/notify"].includes(path) && method === "GET") continue;
          const a = await send(w, method, path, { body: method === "GET" ? null : "{}", contentType: "application/json" });
          // WeChat's notify path answers every failure in its own shape (WeChat reads only the status).
          if (path === "/v1/pay/notify") expectNotifyFailure(a, [400, 404, 405], `${method} ${path}`);
          else expectApiError(a, [404, 405], `${method} ${path}`);
        }
      }
    });
  });

  it("a served path with another method → 405 method_not_allowed with Allow; an unserved one → 404", async () => {
    for (const [method, path, allow] of [
      ["DELETE", "/v1/products", "GET, HEAD"],
      ["PUT", "/v1/orders", "GET, HEAD, POST"],
      ["DELETE", "/v1/orders/ord_X", "GET, HEAD"],
      ["GET", "/v1/auth/login", "POST"],
    ] as const) {
      const res = await w.request(method, path, { headers: { authorization: "Bearer x" } });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("method_not_allowed");
    }
    expect((await w.request("GET", "/v1/orders/ord_X/nope")).status).toBe(404);
    expect((await w.request("GET", "/v1/products/")).status).toBe(404);
  });

  it("unknown and odd paths → 404 envelope, nothing written", async () => {
    const paths = [
      "/",
      "/v1",
      "/v1/",
      "/v1/products/",
      "/v1/products/prod_coffee",
      "/v2/orders",
      "/admin/",
      "/.env",
      "/.dev.vars",
      "/wrangler.toml",
      "/src/index.ts",
      "/v1/auth/login/..",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/v1/%00",
      "/v1/products%00",
      "/cdn-cgi/handler/scheduled",
      ...ODD_IDS.map((id) => `/${id}`),
    ];
    await expectNothingWritten(async () => {
      for (const p of paths) {
        for (const method of ["GET", "POST"]) {
          const a: Answer = await send(w, method, p, { body: method === "POST" ? "{}" : null, contentType: "application/json" });
          if (a.status === 200) {
            // the URL parser normalised it onto a real read-only route
            expect(method, p).toBe("GET");
            continue;
          }
          expectApiError(a, [400, 401, 404, 405], `${method} ${p}`);
        }
      }
    });
  });
});

describe("hostile: secrets", () => {
  it("the scanner itself finds a planted session_key, token signature, key fragment or decrypted body", () => {
    const [sk] = [...watch.sessionKeys];
    const [token] = [...watch.tokens];
    const plants = [
      JSON.stringify({ msg: "oops", session_key: sk }),
      JSON.stringify({ msg: "oops", auth: `Bearer ${token}` }),
      JSON.stringify({ msg: "oops", sig: token!.split(".")[2] }),
      JSON.stringify({ msg: "oops", pem: MERCHANT_PRIVATE_KEY }),
      JSON.stringify({ msg: "oops", key: APIV3_KEY }),
      JSON.stringify({ msg: "oops", body: { bank_type: "OTHERS", trade_state_desc: "支付成功" } }),
    ];
    for (const plant of plants) {
      w.logs.push(plant);
      try {
        expect(watch.scanFast().length, plant.slice(0, 60)).toBeGreaterThan(0);
        if (!plant.includes("bank_type")) expect(watch.scan().length, plant.slice(0, 60)).toBeGreaterThan(0);
      } finally {
        w.logs.pop();
      }
    }
  });

  it("a client's X-Request-Id is never reflected: every answer carries our own id", async () => {
    const a = await send(w, "GET", "/v1/products", { body: null, contentType: null }, { "x-request-id": "<script>alert(1)</script>" });
    expect(a.headers.get("x-request-id")).toMatch(/^req_[0-9A-Z]{20}$/);
    const b = await send(w, "POST", "/v1/auth/login", { body: "{", contentType: "application/json" }, { "x-request-id": "evil\r\nset-cookie: a=b".replace(/\r\n/, " ") });
    expect(b.headers.get("x-request-id")).toMatch(/^req_[0-9A-Z]{20}$/);
    expect(JSON.parse(b.body).error.requestId).toBe(b.headers.get("x-request-id"));
  });

  it("no secret in any answer or log line of this file", () => {
    expect(watch.scanFast()).toEqual([]);
    watch.expectNoLeak({ responses: 400, logs: 100, sessionKeys: 4 });
  });
});

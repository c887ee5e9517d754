/**
 * Hostile input, `GET|POST /v1/wx/push`. Three layers, each generated from a genuine push:
 *  1. unsigned or badly signed requests (bodies, query strings, sizes, content types) → 400/401
 *     (413 past the body limit) in the error envelope;
 *  2. correctly signed envelopes whose `Encrypt` is hostile (what a sender holding the Token but not
 *     the key could send) → 400/401;
 *  3. correctly signed and encrypted messages whose plaintext is hostile → 400, or `success` when
 *     the mutation still left a storable message — never a 5xx, never two rows for one push.
 * Every refusal leaves every table untouched. Then a secret scan (Token, keys, decrypted bodies).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { encryptPush } from "../../src/wechat/push/cipher";
import { msgSignature, urlSignature } from "../../src/wechat/push/signature";
import * as keys from "../fixtures/keys";
import { dbSnapshot, envelopeCases, expectApiError, hostileValues, mutateBody, oddQueryValues, preview, Rng, SecretWatch, send, type BodyCase } from "../support/hostile";
import { count } from "../support/shop";
import { createWorld, type World } from "../support/world";

const SEED = 0x5eed13;
const PATH = "/v1/wx/push";

let w: World;
let watch: SecretWatch;
/** A genuine push's parts, delivered once (so its row exists). */
let genuine: { url: URL; body: string; message: Record<string, unknown> };

const nowS = () => Math.floor(w.clock.now() / 1000);

/** Signs `encrypt` like WeChat (valid `signature` and `msg_signature`) and returns the query string. */
async function signedQuery(encrypt: string, over: Record<string, string> = {}): Promise<string> {
  const timestamp = String(nowS());
  const nonce = "246813579";
  const q: Record<string, string> = {
    signature: await urlSignature(keys.PUSH_TOKEN, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: "aes",
    msg_signature: await msgSignature(keys.PUSH_TOKEN, timestamp, nonce, encrypt),
    ...over,
  };
  return new URLSearchParams(q).toString();
}

/** Seals any plaintext (not only well-formed messages) under our key and AppID. */
async function sealRaw(plaintext: string, format: "json" | "xml"): Promise<{ path: string; body: string }> {
  const encrypt = await encryptPush(keys.PUSH_AES_KEY, plaintext, keys.APPID, new TextEncoder().encode("hostile-random16"));
  const body = format === "json" ? JSON.stringify({ ToUserName: "gh_x", Encrypt: encrypt }) : `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
  return { path: `${PATH}?${await signedQuery(encrypt)}`, body };
}

const pushRows = () => count("SELECT count(*) AS n FROM wx_push_events");

beforeAll(async () => {
  w = createWorld();
  watch = new SecretWatch(w);
  const fields = { Event: "trade_manage_remind_shipping", transaction_id: "4200000000000000000000000042", merchant_trade_no: "HOSTILE_1", msg: "48小时未发货", CreateTime: 1_790_000_000 };
  const sealed = await w.sim.sealPush(fields);
  const d = await w.sim.push(fields);
  expect(d.body).toBe("success");
  genuine = { url: new URL(sealed.url), body: sealed.body, message: w.sim.pushes[0] ? (JSON.parse(w.sim.pushes[0].message) as Record<string, unknown>) : {} };
});

describe("hostile: unsigned and badly signed pushes", () => {
  it("generated malformed bodies and query strings → 400/401/413 envelope, nothing written", async () => {
    const rng = new Rng(SEED);
    const cases: BodyCase[] = [...mutateBody(JSON.parse(genuine.body), rng, 120), ...envelopeCases({})];
    cases.push(
      { label: "genuine body, no query", body: genuine.body, contentType: "application/json" },
      { label: "xml bomb", body: '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml><Encrypt>&lol2;</Encrypt></xml>', contentType: "text/xml" },
      { label: "xml external entity", body: '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>', contentType: "text/xml" },
      { label: "deep xml", body: `<xml>${"<a>".repeat(5000)}${"</a>".repeat(5000)}</xml>`, contentType: "text/xml" },
    );
    const queries = [
      "",
      genuine.url.search.slice(1), // the genuine query replayed with other bodies (its msg_signature does not cover them)
      genuine.url.search.slice(1).replace(/msg_signature=[0-9a-f]+/, "msg_signature="),
      genuine.url.search.slice(1).replace(/encrypt_type=aes/, "encrypt_type=raw"),
      "signature=x&timestamp=y&nonce=z&msg_signature=w",
      ...oddQueryValues(rng).map((v) => `signature=${encodeURIComponent(v)}&timestamp=${encodeURIComponent(v)}&nonce=1&msg_signature=${encodeURIComponent(v)}`),
    ];
    const before = await dbSnapshot();
    let replays = 0;
    for (const c of cases) {
      const query = rng.pick(queries);
      const a = await send(w, "POST", `${PATH}?${query}`, c);
      // msg_signature covers Encrypt only: the genuine query with a body whose Encrypt survived
      // the mutation is a replay of the stored push — `success`, and still nothing written.
      if (a.status === 200 && query === queries[1]) {
        expect(a.body).toBe("success");
        replays++;
        continue;
      }
      expectApiError(a, [400, 401, 413], `push ${c.label} ?${preview(query.slice(0, 60))}`);
    }
    expect(replays).toBeLessThan(cases.length / 4);
    expect(await dbSnapshot()).toEqual(before);
  });

  it("GET with hostile query values → 400/401, never an echo of unsigned input", async () => {
    const rng = new Rng(SEED + 1);
    const good = new URLSearchParams({ signature: await urlSignature(keys.PUSH_TOKEN, "1", "2"), timestamp: "1", nonce: "2", echostr: "ok" });
    for (const v of [...oddQueryValues(rng), ...hostileValues(rng).filter((x): x is string => typeof x === "string")]) {
      for (const name of ["signature", "timestamp", "nonce", "echostr"]) {
        const q = new URLSearchParams(good);
        q.set(name, v);
        const a = await send(w, "GET", `${PATH}?${q}`, { body: null, contentType: null });
        if (name === "echostr" && a.status === 200) {
          // Verbatim (as the URL carried it), and only because signature covers the rest.
          expect(a.body === new URLSearchParams(q.toString()).get("echostr"), preview(v)).toBe(true);
          expect(a.headers.get("x-content-type-options")).toBe("nosniff");
          continue;
        }
        expectApiError(a, [400, 401], `GET ${name}=${preview(v)}`);
      }
    }
  });
});

describe("hostile: signed pushes with a hostile Encrypt", () => {
  it("→ 400/401, nothing written", async () => {
    const rng = new Rng(SEED + 2);
    const encrypt = JSON.parse(genuine.body).Encrypt as string;
    const variants = [
      "",
      "A",
      "====",
      "not base64 at all!",
      encrypt.slice(0, -4),
      encrypt.slice(0, 44),
      `${encrypt}AAAA`,
      encrypt.replace(/.$/, "B"),
      btoa("x".repeat(32)),
      btoa("\u0000".repeat(64)),
      "A".repeat(60_000),
      ...Array.from({ length: 20 }, () => rng.nastyString(rng.int(1, 80))),
    ];
    const before = await dbSnapshot();
    for (const v of variants) {
      for (const format of ["json", "xml"] as const) {
        const body = format === "json" ? JSON.stringify({ ToUserName: "gh_x", Encrypt: v }) : `<xml><Encrypt><![CDATA[${v}]]></Encrypt></xml>`;
        const a = await send(w, "POST", `${PATH}?${await signedQuery(v)}`, { body, contentType: "application/json" });
        expectApiError(a, [400, 401, 413], `Encrypt=${preview(v)} (${format})`);
      }
    }
    // An Encrypt of the wrong JSON type, with the signature over its text form.
    for (const v of [123, null, ["a"], { a: 1 }]) {
      const a = await send(w, "POST", `${PATH}?${await signedQuery(String(v))}`, { body: JSON.stringify({ Encrypt: v }), contentType: "application/json" });
      expectApiError(a, [400, 401], `Encrypt=${JSON.stringify(v)}`);
    }
    expect(await dbSnapshot()).toEqual(before);
  });
});

describe("hostile: signed and encrypted, hostile plaintext", () => {
  it("generated malformed messages → 400 (nothing written) or success (stored once); never 5xx", async () => {
    const rng = new Rng(SEED + 3);
    const cases = mutateBody(genuine.message, rng, 120, { extraKeysInvalid: false });
    let stored = 0;
    for (const c of cases) {
      if (typeof c.body !== "string") continue;
      const format = rng.chance(0.3) ? "xml" : "json";
      const plaintext = format === "xml" && c.body.startsWith("{") ? `<xml><Event>${c.body.replace(/[<&]/g, "")}</Event></xml>` : c.body;
      const sealed = await sealRaw(plaintext, format);
      const rows = await pushRows();
      const before = await dbSnapshot();
      const a = await send(w, "POST", sealed.path, { body: sealed.body, contentType: "application/json" });
      if (a.status === 200) {
        expect(a.body, c.label).toBe("success");
        expect(await pushRows(), c.label).toBeLessThanOrEqual(rows + 1);
        stored++;
        // The same push again changes nothing.
        const again = await send(w, "POST", (await sealRaw(plaintext, format)).path, { body: sealed.body, contentType: "application/json" });
        expect([200, 401], c.label).toContain(again.status);
        continue;
      }
      expectApiError(a, [400, 413], `message ${c.label}`);
      expect(await dbSnapshot(), c.label).toEqual(before);
    }
    expect(stored).toBeLessThan(cases.length);
  });
});

describe("hostile: secrets", () => {
  it("no Token, EncodingAESKey or decrypted push in any answer or log line of this file", () => {
    watch.expectNoLeak({ responses: 200, logs: 100 });
  });
});

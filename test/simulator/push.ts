/**
 * @module test/simulator/push — WeChat's mini-program message push (WECHATPAY.md O): seals an
 * event the way WeChat does in safe mode — FullStr = random(16) ‖ msg_len ‖ msg ‖ appid, PKCS#7
 * to 32-byte blocks, AES-256-CBC (key = EncodingAESKey + "=", IV = key[0:16]), `msg_signature`
 * over the sorted Token/timestamp/nonce/Encrypt — as JSON or XML, and POSTs it to the push URL.
 *
 * Deliberately its own implementation (it never imports src/wechat/push), so a bug in the Worker's
 * crypto cannot be mirrored here. `tamper` produces the pushes a forger or a misconfiguration would.
 */
import { toBase64, toHex, utf8 } from "../../src/lib/encoding";
import { randomString } from "../../src/lib/random";
import type { SimContext } from "./context";

export interface PushTarget {
  /** The Worker's `/v1/wx/push` URL. */
  url: string;
  token: string;
  /** The 43-character EncodingAESKey. */
  encodingAesKey: string;
  /** The mini program's original id (`gh_…`), sent as ToUserName. */
  originalId?: string;
}

export const PUSH_TAMPERS = ["msg_signature", "signature", "stale", "future", "other_appid", "bad_padding", "wrong_key", "plaintext"] as const;
export type PushTamper = (typeof PUSH_TAMPERS)[number];

export interface SealOptions {
  format?: "json" | "xml";
  tamper?: PushTamper;
  /** Unix seconds; default the clock's. */
  timestamp?: number;
  nonce?: string;
  /** Encrypt with this EncodingAESKey instead of the target's (a rotated key). */
  encodingAesKey?: string;
}

export interface SealedPush {
  url: string;
  body: string;
  contentType: string;
}

export interface PushDelivery {
  event: string;
  format: "json" | "xml";
  tamper: PushTamper | null;
  at: number;
  status: number | "error" | "timeout";
  /** The Worker's answer body (first 500 characters). */
  body: string;
  /** The plaintext message that was sealed (for inspection, e.g. "never in a log line"). */
  message: string;
}

/** A push message's fields (JSON shape, O.9); `CreateTime` defaults to the clock's seconds. */
export type PushMessage = Record<string, string | number>;

async function sha1Sorted(parts: string[]): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-1", utf8(parts.slice().sort().join(""))));
}

function aesKey(encodingAesKey: string): Uint8Array {
  return Uint8Array.from(atob(`${encodingAesKey}=`), (ch) => ch.charCodeAt(0));
}

/** AES-256-CBC over bytes already padded to 32: WebCrypto's own trailing pad block is dropped. */
async function cbcEncrypt(encodingAesKey: string, padded: Uint8Array): Promise<string> {
  const raw = aesKey(encodingAesKey);
  const key = await crypto.subtle.importKey("raw", raw, "AES-CBC", false, ["encrypt"]);
  const out = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv: raw.slice(0, 16) }, key, padded));
  return toBase64(out.slice(0, padded.length));
}

function fullStr(random: string, msg: string, appid: string, badPadding: boolean): Uint8Array {
  const m = utf8(msg);
  const body = new Uint8Array([...utf8(random), 0, 0, 0, 0, ...m, ...utf8(appid)]);
  new DataView(body.buffer).setUint32(16, m.length);
  const pad = 32 - (body.length % 32);
  const out = new Uint8Array(body.length + pad).fill(pad);
  out.set(body);
  // A pad whose bytes disagree: decrypts, but is not PKCS#7.
  if (badPadding) out[out.length - 1] = pad === 1 ? 2 : pad - 1;
  return out;
}

const cdata = (v: string) => `<![CDATA[${v.replaceAll("]]>", "]]]]><![CDATA[>")}]]>`;
const toXml = (fields: Record<string, string | number>) =>
  `<xml>${Object.entries(fields).map(([k, v]) => `<${k}>${typeof v === "number" ? v : cdata(v)}</${k}>`).join("")}</xml>`;

export class Pusher {
  log: PushDelivery[] = [];

  constructor(
    private readonly sim: SimContext,
    private readonly deliver: (req: Request) => Promise<Response>,
  ) {}

  private target(): PushTarget {
    const t = this.sim.opts.push;
    if (!t) throw new Error("simulator: message push is not configured (options.push: {url, token, encodingAesKey})");
    return t;
  }

  /** The message with WeChat's common fields filled in. */
  message(fields: PushMessage): PushMessage {
    return {
      ToUserName: this.target().originalId ?? "gh_0000000000000",
      FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
      CreateTime: Math.floor(this.sim.clock.now() / 1000),
      MsgType: "event",
      ...fields,
    };
  }

  /** A push as WeChat would POST it (or as `tamper` spoils it). */
  async seal(fields: PushMessage, opts: SealOptions = {}): Promise<SealedPush> {
    const t = this.target();
    const format = opts.format ?? "json";
    const msg = this.message(fields);
    const tamper = opts.tamper;
    let ts = opts.timestamp ?? Math.floor(this.sim.clock.now() / 1000);
    if (tamper === "stale") ts -= 301;
    if (tamper === "future") ts += 301;
    const timestamp = String(ts);
    const nonce = opts.nonce ?? randomString(this.sim.random, 10, "0123456789");
    const signature = await sha1Sorted([t.token, timestamp, nonce]);
    const url = new URL(t.url);
    url.searchParams.set("signature", tamper === "signature" ? flipHex(signature) : signature);
    url.searchParams.set("timestamp", timestamp);
    url.searchParams.set("nonce", nonce);
    url.searchParams.set("openid", String(msg.FromUserName));
    if (tamper === "plaintext") {
      // Plaintext mode (O.3): the message itself, signed by `signature` only.
      const body = format === "json" ? JSON.stringify(msg) : toXml(msg);
      return { url: url.toString(), body, contentType: format === "json" ? "application/json" : "text/xml" };
    }
    const text = format === "json" ? JSON.stringify(msg) : toXml(msg);
    const appid = tamper === "other_appid" ? "wx0000000000000000" : this.sim.opts.appid;
    const key = tamper === "wrong_key" ? "W".repeat(43) : (opts.encodingAesKey ?? t.encodingAesKey);
    const encrypt = await cbcEncrypt(key, fullStr(randomString(this.sim.random, 16), text, appid, tamper === "bad_padding"));
    const msgSignature = await sha1Sorted([t.token, timestamp, nonce, encrypt]);
    url.searchParams.set("encrypt_type", "aes");
    url.searchParams.set("msg_signature", tamper === "msg_signature" ? flipHex(msgSignature) : msgSignature);
    const envelope = { ToUserName: String(msg.ToUserName), Encrypt: encrypt };
    return format === "json"
      ? { url: url.toString(), body: JSON.stringify(envelope), contentType: "application/json" }
      : { url: url.toString(), body: toXml(envelope), contentType: "text/xml" };
  }

  /** Seals and POSTs one push (WeChat waits 5 s for the answer, O.6); every attempt is logged. */
  async push(fields: PushMessage, opts: SealOptions = {}): Promise<PushDelivery> {
    const sealed = await this.seal(fields, opts);
    const message = JSON.stringify(this.message(fields));
    const req = new Request(sealed.url, { method: "POST", headers: { "content-type": sealed.contentType }, body: sealed.body });
    const record: PushDelivery = {
      event: String(fields.Event ?? fields.MsgType ?? "event"),
      format: opts.format ?? "json",
      tamper: opts.tamper ?? null,
      at: this.sim.clock.now(),
      status: "error",
      body: "",
      message,
    };
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => {
          ctrl.abort();
          resolve("timeout");
        }, this.sim.opts.notifyTimeoutMs ?? 5000);
      });
      const answer = (async () => {
        const res = await this.deliver(new Request(req, { signal: ctrl.signal }));
        return { status: res.status, body: (await res.text()).slice(0, 500) };
      })();
      answer.catch(() => {});
      const r = await Promise.race([answer, timeout]);
      if (r === "timeout") record.status = "timeout";
      else Object.assign(record, r);
    } catch {
      record.status = "error";
    } finally {
      clearTimeout(timer);
    }
    this.log.push(record);
    return record;
  }

  reset(): void {
    this.log = [];
  }
}

function flipHex(s: string): string {
  return (s[0] === "0" ? "1" : "0") + s.slice(1);
}

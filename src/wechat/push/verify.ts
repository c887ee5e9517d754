/**
 * @module wechat/push/verify — a message push from raw request to decrypted message (WECHATPAY.md
 * O.2–O.6), as a short pipeline of named checks:
 *
 *   GET  (URL verification): `signature` over sorted Token/timestamp/nonce → `echostr`, verbatim.
 *   POST (safe mode only): query parameters → timestamp within 300 s → the body's `Encrypt`
 *        (JSON or XML, told apart by the first non-blank byte of the raw body) → `signature` and
 *        `msg_signature`, both compared in constant time → only then decrypt, with the current key
 *        and then the previous one (rotation) → the trailing appid must be ours → parse the message.
 *
 * Plaintext and compatible-mode pushes without `Encrypt`/`msg_signature` are refused: in plaintext
 * mode nothing signs the body (O.3), so anyone holding one old query string could forge any event.
 */
import type { Clock } from "../../lib/clock";
import { timingSafeEqual } from "../../lib/encoding";
import { decryptPush, type FullStr } from "./cipher";
import { PushError, PushMalformed, PushUnverified } from "./errors";
import { msgSignature, urlSignature } from "./signature";
import { readXml, XmlError } from "./xml";

/** Replay guard (O.6: the docs give none; the same tolerance as WeChat Pay's C.3). */
export const PUSH_TOLERANCE_S = 300;
/** WeChat's echostr is a short decimal string; anything much longer is not WeChat. */
const MAX_ECHOSTR = 512;

export interface PushSecrets {
  token: string;
  /** EncodingAESKeys to try, current first, then the previous one (O.1 rotation). */
  aesKeys: readonly string[];
  /** Our AppID: the FullStr's trailing appid must equal it. */
  appid: string;
}

export type PushQuery = Record<string, string | undefined>;
export type PushFormat = "json" | "xml";

export interface OpenedPush {
  /** The format of the body (and, for WeChat, of the message inside). */
  format: PushFormat;
  /** The decrypted message's fields (XML leaves are strings). */
  message: Record<string, unknown>;
  /** 0: the current key decrypted it; 1: the previous one. */
  keyIndex: number;
}

const present = (v: string | undefined): v is string => typeof v === "string" && v !== "";

function required(q: PushQuery, name: string): string {
  const v = q[name];
  if (!present(v)) throw new PushUnverified("missing_parameter", `the ${name} query parameter is missing: not a WeChat message push`);
  return v;
}

/** GET: the `echostr` to answer when `signature` verifies. */
export async function verifyPushUrl(q: PushQuery, token: string): Promise<string> {
  const signature = required(q, "signature");
  const timestamp = required(q, "timestamp");
  const nonce = required(q, "nonce");
  if (!timingSafeEqual(await urlSignature(token, timestamp, nonce), signature.toLowerCase())) {
    throw new PushUnverified("bad_signature", "signature does not match: check that WX_PUSH_TOKEN equals the Token in the mini-program admin (消息推送配置)");
  }
  const echostr = q.echostr;
  if (!present(echostr) || echostr.length > MAX_ECHOSTR) throw new PushMalformed("bad_echostr", "echostr is missing or too long");
  return echostr;
}

/** POST: a verified, decrypted push. Throws `PushUnverified` (401) or `PushMalformed` (400). */
export async function openPush(input: { query: PushQuery; rawBody: string }, secrets: PushSecrets, clock: Clock): Promise<OpenedPush> {
  const q = input.query;
  if (!present(q.msg_signature) || (q.encrypt_type !== undefined && q.encrypt_type !== "aes")) {
    throw new PushUnverified("plaintext_refused", "only safe-mode (安全模式) pushes are accepted: set 消息加密方式 to 安全模式 in the mini-program admin");
  }
  const signature = required(q, "signature");
  const timestamp = required(q, "timestamp");
  const nonce = required(q, "nonce");
  checkTimestamp(timestamp, clock);

  const { format, encrypt } = readEnvelope(input.rawBody);
  // Both signatures are computed and compared before either outcome is used; `signature` does
  // not cover the body, `msg_signature` does (O.4) — a push must carry both, valid.
  const [sig, msgSig] = await Promise.all([urlSignature(secrets.token, timestamp, nonce), msgSignature(secrets.token, timestamp, nonce, encrypt)]);
  const sigOk = timingSafeEqual(sig, signature.toLowerCase());
  const msgSigOk = timingSafeEqual(msgSig, q.msg_signature.toLowerCase());
  if (!msgSigOk) throw new PushUnverified("bad_msg_signature", "msg_signature does not match: check WX_PUSH_TOKEN (the Token in 消息推送配置)");
  if (!sigOk) throw new PushUnverified("bad_signature", "signature does not match: check WX_PUSH_TOKEN (the Token in 消息推送配置)");

  const { full, keyIndex } = await decryptWithKeys(encrypt, secrets);
  return { format, message: readMessage(full.msg), keyIndex };
}

function checkTimestamp(timestamp: string, clock: Clock): void {
  if (!/^[0-9]{1,12}$/.test(timestamp)) throw new PushUnverified("bad_timestamp", "timestamp is not unix seconds");
  const skew = Math.abs(clock.now() / 1000 - Number(timestamp));
  if (skew > PUSH_TOLERANCE_S) {
    throw new PushUnverified("stale_timestamp", `timestamp is ${Math.round(skew)} s away from our clock (at most ${PUSH_TOLERANCE_S} s): a replay, or a wrong clock`);
  }
}

/** The body's format and `Encrypt` string (O.3: `{"ToUserName","Encrypt"}` or `<xml>…<Encrypt>…`). */
function readEnvelope(rawBody: string): { format: PushFormat; encrypt: string } {
  const fields = readDocument(rawBody, "body");
  const encrypt = fields.value.Encrypt;
  if (encrypt === undefined) throw new PushUnverified("plaintext_refused", "the push has no Encrypt field: only safe-mode (安全模式) pushes are accepted");
  if (typeof encrypt !== "string" || encrypt === "") throw new PushMalformed("bad_body", "the push's Encrypt field is not a non-empty string");
  return { format: fields.format, encrypt };
}

function readMessage(msg: string): Record<string, unknown> {
  return readDocument(msg, "decrypted message").value;
}

/** A JSON object or an `<xml>` document, told apart by the first non-blank character. */
function readDocument(text: string, what: string): { format: PushFormat; value: Record<string, unknown> } {
  const first = text.trimStart()[0];
  if (first === "{") {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new PushMalformed("bad_body", `the ${what} is not valid JSON`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PushMalformed("bad_body", `the ${what} is not a JSON object`);
    return { format: "json", value: v as Record<string, unknown> };
  }
  if (first === "<") {
    try {
      return { format: "xml", value: readXml(text) };
    } catch (e) {
      if (e instanceof XmlError) throw new PushMalformed("bad_body", `the ${what} is not WeChat's XML (${e.message})`);
      throw e;
    }
  }
  throw new PushMalformed("bad_body", `the ${what} is neither a JSON object nor <xml>`);
}

/** Looks like an AppID rather than bytes from a wrong key. */
const APPID_LIKE = /^[A-Za-z0-9_-]{1,64}$/;

async function decryptWithKeys(encrypt: string, secrets: PushSecrets): Promise<{ full: FullStr; keyIndex: number }> {
  let firstError: PushError | null = null;
  let otherAppid = false;
  for (const [keyIndex, key] of secrets.aesKeys.entries()) {
    try {
      const full = await decryptPush(key, encrypt);
      if (timingSafeEqual(full.appid, secrets.appid)) return { full, keyIndex };
      if (APPID_LIKE.test(full.appid)) otherAppid = true;
      firstError ??= new PushMalformed("bad_layout", "the decrypted push does not end with an AppID (wrong WX_PUSH_AES_KEY?)");
    } catch (e) {
      if (!(e instanceof PushError)) throw e;
      firstError ??= e;
    }
  }
  // Decrypted cleanly under our Token and key, but for another mini program: not ours to accept.
  if (otherAppid) throw new PushUnverified("other_appid", "the push is for another AppID than WX_APPID");
  throw firstError ?? new PushMalformed("bad_ciphertext", "no EncodingAESKey is configured");
}

/**
 * @module lib/log — structured JSON log lines with a redaction floor that cannot be walked around.
 *
 * Callers pass fields explicitly; any field whose name looks like a secret is replaced before
 * the line is written, so a careless `{ token }` can never leak — at any depth: an object or
 * array deeper than the walk goes is replaced by a marker, never printed raw (printing it raw
 * would skip the name check for everything inside). `level` and `msg` are the line's own; a
 * field of that name is kept under another key rather than allowed to overwrite them. Error
 * cause chains are followed a bounded number of links (a chain may be long or circular).
 * Decrypted notification bodies and WeChat answers are never passed here whole.
 */
export type LogFields = Record<string, unknown>;
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_LEVEL's value if it is a level, else info (the config check reports a wrong value). */
export const logLevelOf = (v: unknown): LogLevel => ((LOG_LEVELS as readonly unknown[]).includes(v) ? (v as LogLevel) : "info");

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
}

export type LogSink = (level: LogLevel, line: string) => void;

const SECRET_NAME =
  /secret|password|passwd|private|apiv3|session_?key|token|authorization|signature|cookie|ciphertext|plaintext|resource|phone/i;
/** Secrets that travel in URLs and messages as `name=value` (jscode2session, access tokens). */
const SECRET_PARAM = /\b(secret|access_token|js_code|token|session_key)=[^&\s"']+/gi;

/** How deep the walk goes; anything below is replaced by TOO_DEEP. */
export const MAX_DEPTH = 6;
/** Links of an error's `cause` chain written out; the rest is summarised. */
export const MAX_CAUSES = 4;
export const MAX_STRING = 2000;
const MAX_ITEMS = 50;
export const TOO_DEEP = "[too deep]";
export const REDACTED = "[redacted]";
/** Keys a field may not take: the line's own. */
const RESERVED = new Set(["level", "msg"]);

function scrubString(s: string): string {
  const cut = s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}…` : s;
  return cut.includes("=") ? cut.replace(SECRET_PARAM, (_m, name: string) => `${name}=${REDACTED}`) : cut;
}

function describeError(err: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: scrubString(String(err.message).slice(0, 300)) };
  let link: Record<string, unknown> = out;
  let cause: unknown = err.cause;
  for (let n = 0; cause !== undefined; n++) {
    if (n >= MAX_CAUSES) {
      link.cause = "[more causes]";
      break;
    }
    const next: Record<string, unknown> =
      cause instanceof Error
        ? { name: cause.name, message: scrubString(String(cause.message).slice(0, 300)) }
        : { value: redact(cause, depth + 1) };
    link.cause = next;
    link = next;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}

/** A JSON-safe copy of `value` with secrets replaced. Exported for tests. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubString(value);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  if (value instanceof Error) return describeError(value, depth);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    if (n++ >= MAX_ITEMS) {
      out["[more keys]"] = true;
      break;
    }
    out[k] = SECRET_NAME.test(k) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

/** The line: `level` and `msg` first and never overwritten (a field so named becomes `field.level`). */
export function formatLine(level: LogLevel, msg: string, fields: LogFields): string {
  const rec = redact(fields) as LogFields;
  const line: LogFields = { level, msg: scrubString(msg) };
  for (const [k, v] of Object.entries(rec)) line[RESERVED.has(k) ? `field.${k}` : k] = v;
  return JSON.stringify(line);
}

export function createLogger(sink: LogSink = consoleSink, base: LogFields = {}, minLevel: LogLevel = "info"): Logger {
  const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (order[level] < order[minLevel]) return;
    sink(level, formatLine(level, msg, { ...base, ...fields }));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    with: (fields) => createLogger(sink, { ...base, ...fields }, minLevel),
  };
}

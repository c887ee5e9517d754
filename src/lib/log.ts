/**
 * @module lib/log — structured JSON log lines with a redaction floor.
 *
 * Callers pass fields explicitly; any field whose name looks like a secret is replaced before
 * the line is written, so a careless `{ token }` can never leak. Decrypted notification bodies
 * and WeChat answers are never passed here whole.
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
  /secret|password|passwd|private|apiv3|session_?key|token|authorization|signature|cookie|ciphertext|plaintext|resource/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== "object") {
    return typeof value === "string" && value.length > 2000 ? `${value.slice(0, 2000)}…` : value;
  }
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_NAME.test(k) ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

export function createLogger(sink: LogSink = consoleSink, base: LogFields = {}, minLevel: LogLevel = "info"): Logger {
  const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (order[level] < order[minLevel]) return;
    const rec = redact({ ...base, ...fields }) as LogFields;
    sink(level, JSON.stringify({ level, msg, ...rec }));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    with: (fields) => createLogger(sink, { ...base, ...fields }, minLevel),
  };
}

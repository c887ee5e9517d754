import { describe, expect, it } from "vitest";
import { createLogger, MAX_CAUSES, MAX_DEPTH, REDACTED, TOO_DEEP } from "../../src/lib/log";

function capture() {
  const lines: string[] = [];
  const log = createLogger((_level, line) => lines.push(line), {}, "debug");
  return { log, lines, last: () => JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> };
}

/** `{a:{a:{…{leaf}}}}` nested `n` levels. */
const nest = (n: number, leaf: unknown): unknown => (n === 0 ? leaf : { a: nest(n - 1, leaf) });

describe("log redaction", () => {
  it("redacts secret-named fields at every depth the walk reaches", () => {
    const { log, lines } = capture();
    for (let d = 0; d < MAX_DEPTH; d++) log.info("x", { f: nest(d, { sessionKey: "S3CRET-session-key" }) });
    expect(lines.join("\n")).not.toContain("S3CRET");
    expect(lines.join("\n")).toContain(REDACTED);
  });

  it("replaces what lies deeper than the walk instead of printing it raw", () => {
    const { log, lines } = capture();
    for (const d of [MAX_DEPTH, MAX_DEPTH + 1, 12, 40]) log.info("deep", { f: nest(d, { token: "S3CRET-token", plain: "S3CRET-plain" }) });
    const text = lines.join("\n");
    expect(text).not.toContain("S3CRET");
    expect(text).toContain(TOO_DEEP);
  });

  it("survives circular objects", () => {
    const { log, last } = capture();
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    log.info("cycle", { a });
    expect(JSON.stringify(last())).toContain(TOO_DEEP);
  });

  it("keeps the line's own level and msg: fields cannot override them", () => {
    const { log, last } = capture();
    log.warn("real message", { msg: "forged", level: "debug" });
    const line = last();
    expect(line.level).toBe("warn");
    expect(line.msg).toBe("real message");
    expect(line["field.msg"]).toBe("forged");
    expect(line["field.level"]).toBe("debug");
    const child = createLogger(() => {}, { msg: "base" });
    expect(() => child.info("ok")).not.toThrow();
  });

  it("bounds an error's cause chain, circular chains included", () => {
    const { log, lines, last } = capture();
    let err = new Error("e0");
    for (let i = 1; i <= 20; i++) err = new Error(`e${i}`, { cause: err });
    log.error("failed", { error: err });
    let link = last().error as Record<string, unknown> | string | undefined;
    let n = 0;
    while (typeof link === "object" && link) {
      n++;
      link = link.cause as Record<string, unknown> | string | undefined;
    }
    expect(n).toBe(MAX_CAUSES + 1);
    expect(link).toBe("[more causes]");

    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    log.error("loop", { error: a });
    expect(lines[lines.length - 1]!.length).toBeLessThan(2000);
  });

  it("scrubs secrets carried as name=value inside strings and messages", () => {
    const { log, lines } = capture();
    log.warn("GET /sns/jscode2session?appid=wx1&secret=APPSECRET123&js_code=CODE9", {
      url: "https://api.weixin.qq.com/wxa/x?access_token=ACCESS42",
      error: new Error("fetch https://x/?access_token=ACCESS43 failed"),
    });
    const text = lines.join("\n");
    for (const s of ["APPSECRET123", "CODE9", "ACCESS42", "ACCESS43"]) expect(text).not.toContain(s);
    expect(text).toContain("appid=wx1");
  });

  it("writes bigints, dates and long strings without throwing", () => {
    const { log, last } = capture();
    log.info("values", { big: 12n, at: new Date(Date.UTC(2026, 0, 1)), long: "x".repeat(5000) });
    const line = last();
    expect(line.big).toBe("12");
    expect(line.at).toBe("2026-01-01T00:00:00.000Z");
    expect(String(line.long).length).toBeLessThan(2100);
  });
});

// The load generator: autocannon's programmatic API, 32 connections, bounded by request count
// and by time, only ever to 127.0.0.1.
import autocannon from "autocannon";

export const CONNECTIONS = 32;

/**
 * Sends `amount` requests (fewer if `maxSeconds` runs out) to 127.0.0.1:`port`.
 * `next()` returns the per-request part ({ path?, headers?, body? }) — fresh codes, distinct
 * notifications, rotating tokens — or is omitted for a fixed request.
 */
export function load({ port, method = "GET", path, headers = {}, body, next, amount, maxSeconds = 60, connections = CONNECTIONS }) {
  if (!Number.isInteger(port)) throw new Error("load: port");
  const samples = [];
  const request = {
    method,
    path,
    headers,
    ...(body !== undefined ? { body } : {}),
    // Keeps a few bodies of unexpected answers (>= 300) for the report.
    onResponse: (status, resBody) => {
      if (status >= 300 && status !== 304 && samples.length < 3 && !(status === 204)) samples.push({ status, body: String(resBody ?? "").slice(0, 300) });
    },
  };
  if (next) {
    request.setupRequest = (req) => {
      const n = next();
      return { ...req, ...n, headers: { ...headers, ...(n.headers ?? {}) } };
    };
  }
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const inst = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: Math.min(connections, amount),
        amount,
        pipelining: 1,
        timeout: 10,
        requests: [request],
      },
      (err, r) => {
        clearTimeout(timer);
        if (err) return reject(err);
        const wallS = (Date.now() - started) / 1000;
        const codes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
        const done = Object.values(codes).reduce((a, b) => a + b, 0);
        resolve({
          requests: done,
          ok: r["2xx"],
          statusCodes: codes,
          errors: r.errors,
          timeouts: r.timeouts,
          wallS,
          rps: done / (r.duration || wallS),
          p50: r.latency.p50,
          p90: r.latency.p90,
          p99: r.latency.p99,
          max: r.latency.max,
          timedOut: Date.now() - started >= maxSeconds * 1000,
          samples,
        });
      },
    );
    const timer = setTimeout(() => inst.stop(), maxSeconds * 1000);
  });
}

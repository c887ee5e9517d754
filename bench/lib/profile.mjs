// `npm run bench -- --profile <route>`: a V8 CPU profile of the Worker's isolate during that
// route's measured phase, through wrangler's inspector port (DevTools protocol). Writes
// bench/.tmp/run/<route>.cpuprofile (open it in Chrome DevTools) and prints the functions with the
// most self time. Profiling slows the isolate down: a profiled phase's figures are not reported.
import WebSocket from "ws";

export async function startProfile(inspectorPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
  if (!target) throw new Error("no inspector target");
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      pending.set(n, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await send("Profiler.start");
  return {
    async stop() {
      const { profile } = await send("Profiler.stop");
      ws.close();
      return profile;
    },
  };
}

/** Self time by function (name + location), and inclusive time by function, in ms. */
export function summarize(profile, top = 30) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const total = profile.samples.length;
  const durMs = (profile.endTime - profile.startTime) / 1000;
  const msPerSample = durMs / Math.max(1, total);
  const key = (n) => {
    const cf = n.callFrame;
    const file = (cf.url || "").split("/").pop();
    return `${cf.functionName || "(anonymous)"} ${file}:${cf.lineNumber + 1}`;
  };
  const self = new Map();
  const incl = new Map();
  for (const [nodeId, c] of counts) {
    const n = byId.get(nodeId);
    self.set(key(n), (self.get(key(n)) ?? 0) + c);
    const seen = new Set();
    for (let p = nodeId; p !== undefined; p = parent.get(p)) {
      const k = key(byId.get(p));
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + c);
    }
  }
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, c]) => ({ fn: k, ms: c * msPerSample, pct: (100 * c) / total }));
  return { samples: total, durationMs: durMs, self: sorted(self), inclusive: sorted(incl) };
}

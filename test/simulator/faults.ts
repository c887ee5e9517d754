/**
 * @module test/simulator/faults — injected failures, by count ("the next N calls to path X") or by
 * probability with a seeded random (e.g. 5% of calls for the fault suite).
 *
 * API faults (any path, including /sns/jscode2session): 500 SYSTEM_ERROR, 429 FREQUENCY_LIMITED,
 * any status/code, timeout (hang until the caller's AbortSignal fires), a slow answer, a 2xx with a
 * bad signature, and for login a forced errcode (-1, 45011, 40226, …) or a non-JSON answer
 * (WECHATPAY.md A.2, C.2, D.4). `applied: true` lets the call take effect before the failure
 * replaces its answer (the "did it happen?" case a timeout really is). `applyThenDrop` is that
 * case as one fault, optionally followed by a 4xx for the repeat (a refund applied, its answer
 * lost, the retry rejected — SPEC §8).
 *
 * Notification faults (G.4–G.6): drop, delay, duplicate (also concurrently), reorder, corrupt (body
 * byte, signature, timestamp, nonce, serial, stale/future timestamp, ciphertext, AAD, algorithm) and
 * the `WECHATPAY/SIGNTEST/` probe (C.4).
 */
import type { SimContext } from "./context";

export type CorruptKind =
  | "body"
  | "signature"
  | "timestamp"
  | "nonce"
  | "serial"
  | "stale"
  | "future"
  | "ciphertext"
  | "aad"
  | "algorithm";

interface Selection {
  /** How many matching calls/notifications to affect. Default 1, or unlimited with `probability`. */
  count?: number;
  /** Affect each match with this probability (seeded random). */
  probability?: number;
}

export type ApiFaultKind =
  | { kind: "systemError" }
  | { kind: "frequencyLimited" }
  | { kind: "status"; status: number; code?: string; message?: string }
  | { kind: "timeout"; ms?: number }
  | { kind: "delay"; ms: number }
  | { kind: "badSignature" }
  | { kind: "errcode"; errcode: number; errmsg?: string }
  | { kind: "nonJson" }
  /**
   * The call takes effect, then its answer is lost: a timeout (`ms`, as `timeout`) or a 500.
   * With `repeat`, the next call to the same method and path is answered with that 4xx
   * instead (not applied).
   */
  | { kind: "applyThenDrop"; answer?: "timeout" | "systemError"; ms?: number; repeat?: { status: number; code?: string; message?: string } };

export type ApiFault = ApiFaultKind &
  Selection & {
    target: "api";
    /** Exact path (`/v3/pay/transactions/jsapi`), a prefix ending in `*`, or `*` for all. */
    path: string;
    method?: string;
    /** Let the call take effect before its answer is replaced (systemError/status/timeout). */
    applied?: boolean;
  };

export type NotifyFaultKind =
  | { kind: "drop" }
  | { kind: "delay"; ms: number }
  | { kind: "duplicate"; copies?: number; concurrent?: boolean }
  | { kind: "reorder" }
  | { kind: "corrupt"; what: CorruptKind }
  | { kind: "signtest" };

export type NotifyFault = NotifyFaultKind &
  Selection & {
    target: "notify";
    /** Only notifications of this event type (e.g. `TRANSACTION.SUCCESS`). */
    eventType?: string;
  };

export type FaultSpec = ApiFault | NotifyFault;

export interface ActiveFault<T extends FaultSpec = FaultSpec> {
  id: string;
  spec: T;
  remaining: number;
  hits: number;
}

const QUEUE_KINDS = new Set(["drop", "delay", "reorder"]);

export class Faults {
  active: ActiveFault[] = [];
  private n = 0;

  constructor(private readonly sim: SimContext) {}

  add(spec: FaultSpec): string {
    validate(spec);
    const id = `fault_${++this.n}`;
    const remaining = spec.count ?? (spec.probability !== undefined ? Number.POSITIVE_INFINITY : 1);
    this.active.push({ id, spec, remaining, hits: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.active.length;
    this.active = this.active.filter((f) => f.id !== id);
    return this.active.length !== before;
  }

  clear(): void {
    this.active = [];
  }

  list(): { id: string; spec: FaultSpec; remaining: number | null; hits: number }[] {
    return this.active.map((f) => ({
      id: f.id,
      spec: f.spec,
      remaining: Number.isFinite(f.remaining) ? f.remaining : null,
      hits: f.hits,
    }));
  }

  private consume(f: ActiveFault): boolean {
    if (f.remaining <= 0) return false;
    if (f.spec.probability !== undefined && !this.sim.chance(f.spec.probability)) return false;
    f.remaining--;
    f.hits++;
    if (f.remaining <= 0) this.active = this.active.filter((x) => x !== f);
    return true;
  }

  /** Puts an API fault first in line (it matches before every other). */
  addFirst(spec: ApiFault): string {
    validate(spec);
    const id = `fault_${++this.n}`;
    this.active.unshift({ id, spec, remaining: spec.count ?? 1, hits: 0 });
    return id;
  }

  /** The first API fault matching this call, consumed. */
  takeApi(method: string, path: string): ActiveFault<ApiFault> | null {
    for (const f of this.active) {
      const s = f.spec;
      if (s.target !== "api") continue;
      if (s.method && s.method.toUpperCase() !== method.toUpperCase()) continue;
      if (!pathMatches(s.path, path)) continue;
      if (this.consume(f)) return f as ActiveFault<ApiFault>;
    }
    return null;
  }

  /** Every notification fault of a phase matching this event, consumed. */
  takeNotify(phase: "queue" | "attempt", eventType: string): ActiveFault<NotifyFault>[] {
    const out: ActiveFault<NotifyFault>[] = [];
    for (const f of [...this.active]) {
      const s = f.spec;
      if (s.target !== "notify") continue;
      if (QUEUE_KINDS.has(s.kind) !== (phase === "queue")) continue;
      if (s.eventType && s.eventType !== eventType) continue;
      if (this.consume(f)) out.push(f as ActiveFault<NotifyFault>);
    }
    return out;
  }
}

function pathMatches(pattern: string, path: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return path.startsWith(pattern.slice(0, -1));
  return pattern === path;
}

function validate(spec: FaultSpec): void {
  if (!spec || (spec.target !== "api" && spec.target !== "notify")) throw new Error('fault: target must be "api" or "notify"');
  if (spec.target === "api" && typeof spec.path !== "string") throw new Error("fault: api faults need a path");
  if (spec.probability !== undefined && !(spec.probability >= 0 && spec.probability <= 1)) {
    throw new Error("fault: probability must be within [0, 1]");
  }
  if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count > 0)) {
    throw new Error("fault: count must be a positive integer");
  }
  const apiKinds = ["systemError", "frequencyLimited", "status", "timeout", "delay", "badSignature", "errcode", "nonJson", "applyThenDrop"];
  const notifyKinds = ["drop", "delay", "duplicate", "reorder", "corrupt", "signtest"];
  const kinds = spec.target === "api" ? apiKinds : notifyKinds;
  if (!kinds.includes(spec.kind)) throw new Error(`fault: unknown ${spec.target} fault kind ${String(spec.kind)}`);
  if (spec.kind === "applyThenDrop") {
    if (spec.answer !== undefined && spec.answer !== "timeout" && spec.answer !== "systemError") throw new Error('fault: applyThenDrop answer must be "timeout" or "systemError"');
    const r = spec.repeat;
    if (r !== undefined && !(Number.isInteger(r.status) && r.status >= 400 && r.status < 500)) throw new Error("fault: applyThenDrop repeat.status must be a 4xx");
  }
}

/** Real-time sleep that ends early (rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortReason(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

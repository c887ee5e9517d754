/**
 * @module test/simulator/notifications — WeChat Pay's notifier (WECHATPAY.md G, H.4): builds the
 * envelope `{id, create_time, resource_type, event_type, summary, resource}` with the resource
 * encrypted by AEAD_AES_256_GCM under the APIv3 key (G.3), signs `TS\nNONCE\nBODY\n` (C.2) with a
 * fresh timestamp and nonce per attempt, POSTs it to notify_url and retries any non-2xx, network
 * error or answer slower than 5 s on WeChat's schedule (G.5).
 *
 * Timing: with `timeScale > 0` attempts run on real timers (delay × timeScale). With `timeScale = 0`
 * (manual) nothing happens by itself: `deliverDue()` delivers what is due at the clock's time,
 * `flush()` delivers everything pending now, ignoring delays.
 */
import { randomString } from "../../src/lib/random";
import { aesGcmEncrypt, rsaSign } from "./crypto";
import type { SimContext, Signer } from "./context";
import type { ActiveFault, Faults, NotifyFault } from "./faults";
import { rfc3339Cst } from "./time";
import type { DeliveryRecord } from "./types";

/** Delays between attempts, seconds (G.5): 16 attempts in all, 24 h 4 min. */
export const RETRY_DELAYS_S = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];

export type NotificationState = "pending" | "held" | "delivered" | "exhausted" | "dropped";

export interface NotificationItem {
  eventId: string;
  eventType: string;
  url: string;
  /** The envelope, serialized once; every attempt sends these bytes (unless corrupted). */
  body: string;
  /** The decrypted resource, for inspection. */
  resource: Record<string, unknown>;
  state: NotificationState;
  attempts: number;
  /** Clock ms when the next attempt is due. */
  nextAt: number;
  order: number;
  signer: Signer;
  inFlight: boolean;
  outTradeNo?: string;
  outRefundNo?: string;
}

export interface NotificationInput {
  eventType: string;
  summary: string;
  /** `transaction` or `refund`; also the AAD (G.1, H.4). */
  originalType: string;
  resource: Record<string, unknown>;
  url: string;
  outTradeNo?: string;
  outRefundNo?: string;
}

const SIGN_TYPE = "WECHATPAY2-SHA256-RSA2048";

export class Notifier {
  items: NotificationItem[] = [];
  log: DeliveryRecord[] = [];
  private held: NotificationItem[] = [];

  constructor(
    private readonly sim: SimContext,
    private readonly faults: Faults,
    private readonly deliver: (req: Request) => Promise<Response>,
  ) {}

  reset(): void {
    this.items = [];
    this.log = [];
    this.held = [];
  }

  async enqueue(input: NotificationInput): Promise<NotificationItem> {
    const sim = this.sim;
    const nonce = sim.nonce12();
    const ciphertext = await aesGcmEncrypt(sim.opts.apiv3Key, nonce, input.originalType, JSON.stringify(input.resource));
    const eventId = sim.eventId();
    const envelope = {
      id: eventId,
      create_time: rfc3339Cst(sim.clock.now()),
      resource_type: "encrypt-resource",
      event_type: input.eventType,
      summary: input.summary,
      resource: {
        original_type: input.originalType,
        algorithm: "AEAD_AES_256_GCM",
        ciphertext,
        associated_data: input.originalType,
        nonce,
      },
    };
    const item: NotificationItem = {
      eventId,
      eventType: input.eventType,
      url: input.url,
      body: JSON.stringify(envelope),
      resource: input.resource,
      state: "pending",
      attempts: 0,
      nextAt: sim.clock.now(),
      order: sim.nextSeq(),
      signer: sim.notificationSigner(),
      inFlight: false,
      ...(input.outTradeNo ? { outTradeNo: input.outTradeNo } : {}),
      ...(input.outRefundNo ? { outRefundNo: input.outRefundNo } : {}),
    };
    this.items.push(item);
    sim.state.stats.notificationsQueued++;

    for (const f of this.faults.takeNotify("queue", item.eventType)) {
      const s = f.spec;
      if (s.kind === "drop") {
        item.state = "dropped";
        this.record(item, 1, "dropped", "drop");
      } else if (s.kind === "delay") {
        item.nextAt += s.ms;
      } else if (s.kind === "reorder" && item.state === "pending") {
        item.state = "held";
        this.held.push(item);
        if (f.remaining <= 0) this.releaseHeld();
      }
    }
    if (item.state === "pending") this.schedule(item);
    return item;
  }

  /** Releases held notifications (reorder fault) newest first. */
  releaseHeld(): void {
    const held = this.held.reverse();
    this.held = [];
    const at = Math.max(this.sim.clock.now(), ...held.map((h) => h.nextAt));
    for (const h of held) {
      h.state = "pending";
      h.nextAt = at;
      h.order = this.sim.nextSeq();
      this.schedule(h);
    }
  }

  private schedule(item: NotificationItem): void {
    const scale = this.sim.timeScale;
    if (scale <= 0) return;
    const delay = Math.max(0, item.nextAt - this.sim.clock.now()) * scale;
    setTimeout(() => {
      if (item.state === "pending" && !item.inFlight) void this.attempt(item).catch(() => {});
    }, delay);
  }

  /** Delivers every pending notification due at the clock's time (one attempt each). */
  async deliverDue(): Promise<DeliveryRecord[]> {
    const now = this.sim.clock.now();
    const due = this.items
      .filter((i) => i.state === "pending" && !i.inFlight && i.nextAt <= now)
      .sort((a, b) => a.nextAt - b.nextAt || a.order - b.order);
    const from = this.log.length;
    for (const item of due) await this.attempt(item);
    return this.log.slice(from);
  }

  /**
   * Delivers everything pending now, ignoring delays, retrying failures immediately, for at most
   * `rounds` rounds (default: the whole schedule, 16 attempts). Held (reorder) items are released.
   */
  async flush(opts: { rounds?: number } = {}): Promise<DeliveryRecord[]> {
    if (this.held.length) this.releaseHeld();
    const rounds = opts.rounds ?? RETRY_DELAYS_S.length + 1;
    const from = this.log.length;
    for (let r = 0; r < rounds; r++) {
      const pending = this.items.filter((i) => i.state === "pending" && !i.inFlight).sort((a, b) => a.order - b.order);
      if (!pending.length) break;
      for (const item of pending) await this.attempt(item);
    }
    return this.log.slice(from);
  }

  /** One attempt (possibly several copies) of one notification. */
  async attempt(item: NotificationItem): Promise<void> {
    if (item.state !== "pending" || item.inFlight) return;
    item.inFlight = true;
    try {
      item.attempts++;
      const sim = this.sim;
      const faults = this.faults.takeNotify("attempt", item.eventType);
      const { request, faultName } = await this.build(item, faults);
      const dup = faults.find((f) => f.spec.kind === "duplicate")?.spec as
        | Extract<NotifyFault, { kind: "duplicate" }>
        | undefined;
      const copies = dup ? Math.max(1, dup.copies ?? 2) : 1;
      const send = async (copy: number) => {
        const status = await this.send(request.clone());
        this.record(item, copy, status, faultName ?? (dup ? "duplicate" : undefined));
        return status;
      };
      let statuses: DeliveryRecord["status"][];
      if (copies > 1 && dup?.concurrent) {
        statuses = await Promise.all(Array.from({ length: copies }, (_, i) => send(i + 1)));
      } else {
        statuses = [];
        for (let i = 1; i <= copies; i++) statuses.push(await send(i));
      }
      sim.state.stats.notificationAttempts++;
      if (statuses.some((s) => typeof s === "number" && s >= 200 && s < 300)) {
        item.state = "delivered";
        sim.state.stats.notificationsDelivered++;
      } else if (item.attempts > RETRY_DELAYS_S.length) {
        item.state = "exhausted";
      } else {
        item.nextAt = sim.clock.now() + RETRY_DELAYS_S[item.attempts - 1]! * 1000;
        this.schedule(item);
      }
    } finally {
      item.inFlight = false;
    }
  }

  private async build(item: NotificationItem, faults: ActiveFault<NotifyFault>[]) {
    const sim = this.sim;
    let body = item.body;
    let ts = Math.floor(sim.clock.now() / 1000);
    let faultName: string | undefined;
    const corrupt = new Set<string>();
    for (const f of faults) {
      if (f.spec.kind === "corrupt") corrupt.add(f.spec.what);
      if (f.spec.kind === "signtest") corrupt.add("signtest");
    }
    if (corrupt.size) faultName = [...corrupt].join("+");
    // Corruptions made before signing: the signature is valid, the content is not.
    if (corrupt.has("ciphertext") || corrupt.has("aad") || corrupt.has("algorithm")) {
      const env = JSON.parse(body) as { resource: Record<string, string> };
      if (corrupt.has("ciphertext")) env.resource.ciphertext = flipBase64(env.resource.ciphertext!);
      if (corrupt.has("aad")) env.resource.associated_data = "tampered";
      if (corrupt.has("algorithm")) env.resource.algorithm = "AEAD_AES_128_GCM";
      body = JSON.stringify(env);
    }
    if (corrupt.has("stale")) ts -= 301;
    if (corrupt.has("future")) ts += 301;
    const nonce = sim.nonce32();
    let signature = await rsaSign(await item.signer.key, `${ts}\n${nonce}\n${body}\n`);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "Mozilla/4.0 (wxpay-edge simulator)",
      "wechatpay-timestamp": String(ts),
      "wechatpay-nonce": nonce,
      "wechatpay-signature": signature,
      "wechatpay-serial": item.signer.serial,
      "wechatpay-signature-type": SIGN_TYPE,
    };
    // Corruptions made after signing: the signature no longer matches.
    if (corrupt.has("body")) {
      const i = body.indexOf(item.eventId) + item.eventId.length - 1;
      body = body.slice(0, i) + (body[i] === "0" ? "1" : "0") + body.slice(i + 1);
    }
    if (corrupt.has("signature")) signature = flipBase64(signature);
    if (corrupt.has("signtest")) signature = `WECHATPAY/SIGNTEST/${signature}`;
    headers["wechatpay-signature"] = signature;
    if (corrupt.has("timestamp")) headers["wechatpay-timestamp"] = String(ts + 1);
    if (corrupt.has("nonce")) headers["wechatpay-nonce"] = sim.nonce32();
    if (corrupt.has("serial")) headers["wechatpay-serial"] = randomString(sim.random, 40, "0123456789ABCDEF");
    return { request: new Request(item.url, { method: "POST", headers, body }), faultName };
  }

  private async send(req: Request): Promise<DeliveryRecord["status"]> {
    const ms = this.sim.opts.notifyTimeoutMs ?? 5000;
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        ctrl.abort();
        resolve("timeout");
      }, ms);
    });
    try {
      const attempt = (async () => {
        const res = await this.deliver(new Request(req, { signal: ctrl.signal }));
        await res.arrayBuffer().catch(() => undefined);
        return res.status;
      })();
      attempt.catch(() => {});
      return await Promise.race([attempt, timeout]);
    } catch {
      return "error";
    } finally {
      clearTimeout(timer);
    }
  }

  private record(item: NotificationItem, copy: number, status: DeliveryRecord["status"], fault?: string): void {
    this.log.push({
      eventId: item.eventId,
      eventType: item.eventType,
      url: item.url,
      attempt: Math.max(1, item.attempts),
      copy,
      at: this.sim.clock.now(),
      status,
      serial: item.signer.serial,
      ...(fault ? { fault } : {}),
    });
  }
}

/** Changes one base64 character into another valid one. */
function flipBase64(s: string): string {
  const i = Math.min(10, s.length - 3);
  return s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
}

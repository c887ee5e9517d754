/**
 * @module test/simulator — a faithful stand-in for api.weixin.qq.com and api.mch.weixin.qq.com
 * (WeChat Pay APIv3 has no sandbox), runtime-neutral (Hono + WebCrypto): an injected `fetch` for the
 * Worker in workerd tests, and an HTTP server for local development (scripts/simulator.mjs).
 * Routes by path; the host is ignored. See README.md in this folder.
 */
import { Hono } from "hono";
import { errorResponse, apiError, requireSignature, type SimEnv } from "./auth";
import { registerBills } from "./bills";
import { registerCertificates } from "./certificates";
import { SimContext, emptyState, type ForeignBillRows, type SigningState } from "./context";
import { registerControl } from "./control";
import { aesGcmEncrypt, rsaSign } from "./crypto";
import { Faults, abortReason, sleep, type ActiveFault, type ApiFault, type FaultSpec } from "./faults";
import { mintCode, type MintedCode } from "./login";
import { registerLogin } from "./login";
import { Notifier, type NotificationInput, type NotificationItem } from "./notifications";
import { cancel, pay, registerPay, transactionView } from "./pay";
import { Pusher, type PushDelivery, type PushMessage, type SealedPush, type SealOptions } from "./push";
import { registerRefunds, settleDueRefunds, settleRefund } from "./refunds";
import { registerWxServer, type WxServerSimulator } from "./wxserver";
import type {
  DeliveryRecord,
  KeyMode,
  PayResult,
  PlatformCertificateOption,
  RefundStatus,
  RequestPaymentParams,
  SimRefund,
  SimStats,
  SimTransaction,
  SimulatorOptions,
} from "./types";

export type * from "./types";
export type { FaultSpec, ApiFault, NotifyFault, CorruptKind } from "./faults";
export type { MintedCode } from "./login";
export type { NotificationItem, NotificationInput } from "./notifications";
export type { SigningState } from "./context";
export type { PushDelivery, PushMessage, PushTamper, PushTarget, SealedPush, SealOptions } from "./push";
export { PUSH_TAMPERS } from "./push";
export type { WxServerSimulator } from "./wxserver";
export type { SealedOpenData } from "./session";
export type { SimShipping, SimPhoneCode, TradeEvent } from "./wxstate";
export { RETRY_DELAYS_S } from "./notifications";
export { BILL_HEADER, BILL_SUMMARY_HEADER } from "./bills";

export interface Simulator {
  /** A drop-in `fetch`: routes by path (host ignored), honours `init.signal`. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;

  // Login (A)
  /** What wx.login() gives: a single-use code valid 5 minutes, for a new or given user. */
  mintCode(user?: { openid?: string; unionid?: string }): MintedCode;

  // The WeChat client (E)
  /** wx.requestPayment: verifies paySign, marks the order paid, queues TRANSACTION.SUCCESS. */
  pay(params: RequestPaymentParams, user?: { openid?: string }): Promise<PayResult>;
  /** The user closes the payment sheet: nothing happens at WeChat. */
  cancel(params?: RequestPaymentParams): PayResult;

  // Notifications (G)
  /** Delivers what is due at the clock's time (also settles refunds due for auto-settle). */
  deliverDue(): Promise<DeliveryRecord[]>;
  /** Delivers everything pending now, ignoring delays (bounded: `rounds`, default the full schedule). */
  flush(opts?: { rounds?: number }): Promise<DeliveryRecord[]>;
  /** Every delivery attempt (one record per copy). */
  readonly deliveries: DeliveryRecord[];
  readonly notifications: NotificationItem[];
  /** Queues an arbitrary notification (encrypted and signed like a real one), e.g. a mismatched amount. */
  queueNotification(input: NotificationInput): Promise<NotificationItem>;
  /** Signs a raw notification body like WeChat: returns the Wechatpay-* headers. */
  signNotificationBody(body: string, opts?: { mode?: KeyMode; timestamp?: number; nonce?: string }): Promise<Record<string, string>>;
  /** Encrypts a resource like WeChat does (G.3). */
  encryptResource(plaintext: unknown, associatedData: string): Promise<Record<string, string>>;

  // Message push (O)
  /** Seals (safe mode, JSON or XML, optionally tampered) and POSTs one event to options.push.url. */
  push(fields: PushMessage, opts?: SealOptions): Promise<PushDelivery>;
  /** The sealed request without sending it. */
  sealPush(fields: PushMessage, opts?: SealOptions): Promise<SealedPush>;
  /** Every push delivered, in order. */
  readonly pushes: PushDelivery[];

  // Refunds (H)
  settleRefund(outRefundNo: string, status: Exclude<RefundStatus, "PROCESSING">): Promise<SimRefund>;
  getRefund(outRefundNo: string): SimRefund | undefined;
  listRefunds(): SimRefund[];

  // Bills (I)
  /** Adds rows of another appid/mchid to a date's trade bill (a merchant id shared with another app). */
  addForeignBillRows(date: string, rows: Partial<ForeignBillRows> & { count: number }): void;

  // Inspection
  getTransaction(outTradeNo: string): SimTransaction | undefined;
  listTransactions(): SimTransaction[];
  /** The Transaction a query would answer (F.2). */
  transactionView(outTradeNo: string): Record<string, unknown> | undefined;
  stats(): SimStats;

  // Faults
  addFault(spec: FaultSpec): string;
  removeFault(id: string): boolean;
  clearFaults(): void;
  listFaults(): ReturnType<Faults["list"]>;

  // Keys and signing (C.5)
  readonly signing: SigningState;
  /** responses: "follow" (WeChat: by the request's Wechatpay-Serial) | "certificate" | "publicKey";
   *  notifications: the mode; publicKeyRatio: mixed rollout share (null = off); activeCertificate: rotation. */
  setSigning(s: Partial<SigningState>): void;
  addCertificate(c: PlatformCertificateOption): void;
  /** Rotation: this certificate signs from now on. */
  useCertificate(serial: string): void;
  certificateSerials(): string[];

  /** Mini-program server APIs (M, N, P, Q): tokens, shipping, receipt/settlement, phone codes, open data. */
  readonly wx: WxServerSimulator;

  /** Forgets every code, user, order, refund, notification, fault and counter. */
  reset(): void;
}

class ConnectionDropped extends TypeError {}

export function createSimulator(options: SimulatorOptions): Simulator {
  const ctx = new SimContext(options);
  const deliver = options.deliver ?? ((req: Request) => fetch(req));
  ctx.faults = new Faults(ctx);
  ctx.notifier = new Notifier(ctx, ctx.faults, deliver);
  ctx.pusher = new Pusher(ctx, deliver);

  const app = new Hono<SimEnv>();
  app.onError((err) => {
    if (err instanceof ConnectionDropped) throw err;
    return errorResponse(ctx, apiError(500, "SYSTEM_ERROR", `simulator error: ${err.message}`));
  });
  app.use("/v3/*", async (c, next) => {
    const denied = await requireSignature(ctx, c);
    if (denied) return denied;
    await next();
  });
  registerLogin(app, ctx);
  registerPay(app, ctx);
  registerRefunds(app, ctx);
  registerCertificates(app, ctx);
  registerBills(app, ctx);
  const wx = registerWxServer(app, ctx);
  app.notFound((c) =>
    c.req.path.startsWith("/v3/")
      ? errorResponse(ctx, apiError(404, "RESOURCE_NOT_EXISTS", "资源不存在"))
      : c.json({ errcode: 40066, errmsg: "invalid url" }, 404),
  );

  async function withFault(req: Request, signal: AbortSignal | undefined): Promise<Response> {
    const url = new URL(req.url);
    const isControl = url.pathname.startsWith("/__sim");
    if (isControl) return app.fetch(req, { signal });
    ctx.countCall(req.method, url.pathname);
    const f = ctx.faults.takeApi(req.method, url.pathname);
    if (!f) return app.fetch(req, { signal });
    return applyApiFault(f, req, signal, !url.pathname.startsWith("/v3/"));
  }

  async function applyApiFault(f: ActiveFault<ApiFault>, req: Request, signal: AbortSignal | undefined, wx: boolean): Promise<Response> {
    const s = f.spec;
    const run = () => app.fetch(req.clone(), { signal });
    const failWith = async (status: number, code: string, message: string) => {
      if (s.applied) await run();
      if (wx) return new Response(`<html><body><h1>${status} ${message}</h1></body></html>`, { status, headers: { "content-type": "text/html" } });
      return errorResponse(ctx, apiError(status, code, message));
    };
    switch (s.kind) {
      case "applyThenDrop": {
        await run();
        if (s.repeat) {
          const r = s.repeat;
          ctx.faults.addFirst({ target: "api", path: new URL(req.url).pathname, method: req.method, kind: "status", status: r.status, ...(r.code ? { code: r.code } : {}), ...(r.message ? { message: r.message } : {}) });
        }
        if (s.answer === "systemError") return errorResponse(ctx, apiError(500, "SYSTEM_ERROR", "系统错误"));
        await sleep(s.ms ?? 30_000, signal);
        throw new ConnectionDropped("simulator: connection dropped after the call took effect (applyThenDrop)");
      }
      case "delay":
        await sleep(s.ms, signal);
        return run();
      case "timeout":
        if (s.applied) await run();
        await sleep(s.ms ?? 30_000, signal);
        throw new ConnectionDropped("simulator: connection dropped (timeout fault)");
      case "systemError":
        return failWith(500, "SYSTEM_ERROR", "系统错误");
      case "frequencyLimited":
        return failWith(429, "FREQUENCY_LIMITED", "频率超限");
      case "status":
        return failWith(s.status, s.code ?? (s.status >= 500 ? "SYSTEM_ERROR" : "INVALID_REQUEST"), s.message ?? "injected failure");
      case "errcode":
        return Response.json({ errcode: s.errcode, errmsg: s.errmsg ?? `injected errcode ${s.errcode}, rid: sim` });
      case "nonJson":
        return new Response("<html><body>system busy</body></html>", { status: 200, headers: { "content-type": "text/html" } });
      case "badSignature": {
        const res = await run();
        const sig = res.headers.get("wechatpay-signature");
        if (!sig || res.status < 200 || res.status >= 300) return res;
        const headers = new Headers(res.headers);
        headers.set("wechatpay-signature", sig.slice(0, 10) + (sig[10] === "A" ? "B" : "A") + sig.slice(11));
        return new Response(res.body, { status: res.status, headers });
      }
    }
  }

  const sim: Simulator = {
    async fetch(input, init) {
      const req = new Request(input, init);
      const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
      if (signal?.aborted) throw abortReason(signal);
      const work = withFault(req, signal);
      if (!signal) return work;
      work.catch(() => {});
      return new Promise<Response>((resolve, reject) => {
        const onAbort = () => reject(abortReason(signal));
        signal.addEventListener("abort", onAbort, { once: true });
        work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
      });
    },
    mintCode: (user) => mintCode(ctx, user),
    pay: (params, user) => pay(ctx, params, user),
    cancel: () => cancel(),
    async deliverDue() {
      await settleDueRefunds(ctx);
      return ctx.notifier.deliverDue();
    },
    flush: (opts) => ctx.notifier.flush(opts),
    get deliveries() {
      return ctx.notifier.log;
    },
    get notifications() {
      return ctx.notifier.items;
    },
    queueNotification: (input) => ctx.notifier.enqueue(input),
    async signNotificationBody(body, opts = {}) {
      const signer = opts.mode ? ctx.signer(opts.mode) : ctx.notificationSigner();
      const ts = String(opts.timestamp ?? Math.floor(ctx.clock.now() / 1000));
      const nonce = opts.nonce ?? ctx.nonce32();
      return {
        "content-type": "application/json",
        "wechatpay-timestamp": ts,
        "wechatpay-nonce": nonce,
        "wechatpay-signature": await rsaSign(await signer.key, `${ts}\n${nonce}\n${body}\n`),
        "wechatpay-serial": signer.serial,
        "wechatpay-signature-type": "WECHATPAY2-SHA256-RSA2048",
      };
    },
    async encryptResource(plaintext, associatedData) {
      const nonce = ctx.nonce12();
      const text = typeof plaintext === "string" ? plaintext : JSON.stringify(plaintext);
      return {
        original_type: associatedData,
        algorithm: "AEAD_AES_256_GCM",
        ciphertext: await aesGcmEncrypt(options.apiv3Key, nonce, associatedData, text),
        associated_data: associatedData,
        nonce,
      };
    },
    push: (fields, opts) => ctx.pusher.push(fields, opts),
    sealPush: (fields, opts) => ctx.pusher.seal(fields, opts),
    get pushes() {
      return ctx.pusher.log;
    },
    settleRefund: (no, status) => settleRefund(ctx, no, status),
    getRefund: (no) => ctx.state.refunds.get(no),
    listRefunds: () => [...ctx.state.refunds.values()],
    addForeignBillRows: (date, rows) => {
      const list = ctx.state.foreignBillRows.get(date) ?? [];
      list.push({ appid: "wx0ther0ff1c1a1acc", mchid: options.mchid, ...rows });
      ctx.state.foreignBillRows.set(date, list);
    },
    getTransaction: (no) => ctx.state.transactions.get(no),
    listTransactions: () => [...ctx.state.transactions.values()],
    transactionView(no) {
      const t = ctx.state.transactions.get(no);
      return t ? transactionView(ctx, t) : undefined;
    },
    stats: () => structuredClone(ctx.state.stats),
    addFault: (spec) => ctx.faults.add(spec),
    removeFault: (id) => ctx.faults.remove(id),
    clearFaults: () => ctx.faults.clear(),
    listFaults: () => ctx.faults.list(),
    get signing() {
      return { ...ctx.signing };
    },
    setSigning(s) {
      const next = { ...ctx.signing };
      if (s.responses !== undefined) {
        if (!["follow", "certificate", "publicKey"].includes(s.responses)) throw new Error("signing.responses: follow | certificate | publicKey");
        next.responses = s.responses;
      }
      if (s.notifications !== undefined) {
        if (!["certificate", "publicKey"].includes(s.notifications)) throw new Error("signing.notifications: certificate | publicKey");
        next.notifications = s.notifications;
      }
      if (s.publicKeyRatio !== undefined) {
        if (s.publicKeyRatio !== null && !(s.publicKeyRatio >= 0 && s.publicKeyRatio <= 1)) throw new Error("signing.publicKeyRatio: 0..1 or null");
        next.publicKeyRatio = s.publicKeyRatio;
      }
      if (s.activeCertificate !== undefined) {
        if (s.activeCertificate !== null && !ctx.certificates.some((c) => c.serial === s.activeCertificate)) {
          throw new Error(`signing.activeCertificate: unknown certificate ${s.activeCertificate}`);
        }
        next.activeCertificate = s.activeCertificate;
      }
      ctx.signing = next;
    },
    addCertificate: (c) => ctx.addCertificate(c),
    useCertificate(serial) {
      sim.setSigning({ activeCertificate: serial });
    },
    certificateSerials: () => ctx.certificates.map((c) => c.serial),
    wx,
    reset() {
      ctx.state = emptyState(options);
      ctx.faults.clear();
      ctx.notifier.reset();
      ctx.pusher.reset();
    },
  };
  registerControl(app, sim);
  return sim;
}

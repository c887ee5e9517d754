/**
 * @module test/simulator/context — the simulator's state and key material, shared by every
 * route module (login, pay, refunds, certificates, bills, notifications, faults, control).
 */
import type { Clock } from "../../src/lib/clock";
import { cryptoRandom, randomString, seededRandom, type Random } from "../../src/lib/random";
import { certificateInfo } from "./der";
import { importPrivateKey, importPublicKey } from "./crypto";
import { compactCst } from "./time";
import type { Faults } from "./faults";
import type { Notifier } from "./notifications";
import type { Pusher } from "./push";
import { emptyWxServerState, type WxServerState } from "./wxstate";
import type {
  KeyMode,
  PlatformCertificateOption,
  PublicKeyOption,
  SimRefund,
  SimTransaction,
  SimulatorOptions,
  SimStats,
} from "./types";

export interface Signer {
  /** Value of `Wechatpay-Serial`: a certificate serial or a `PUB_KEY_ID_…`. */
  serial: string;
  key: Promise<CryptoKey>;
}

export interface PlatformCertificate extends PlatformCertificateOption {
  notBefore: number;
  notAfter: number;
  key: Promise<CryptoKey>;
}

export interface SigningState {
  /** "follow": like WeChat, answer with the public key when the request's Wechatpay-Serial is its id (C.5). */
  responses: "follow" | KeyMode;
  notifications: KeyMode;
  /** Mixed rollout (C.5 (2)): this share of notifications is signed with the public key. */
  publicKeyRatio: number | null;
  /** Serial of the certificate that signs in certificate mode (rotation). */
  activeCertificate: string | null;
}

export interface LoginCode {
  code: string;
  openid: string;
  unionid?: string;
  /** The session_key this wx.login issued (jscode2session hands it out). */
  sessionKey: string;
  createdAt: number;
  usedAt?: number;
}

export interface BillFile {
  bytes: Uint8Array;
  gzip: boolean;
  expiresAt: number;
}

export interface SimState {
  codes: Map<string, LoginCode>;
  /** openid → unionid (known users of this appid). */
  users: Map<string, string | undefined>;
  /** openid → the user's one current session_key: the latest wx.login's (Q.1). */
  sessionKeys: Map<string, string>;
  transactions: Map<string, SimTransaction>;
  /** prepay_id → {outTradeNo, createdAt} */
  prepays: Map<string, { outTradeNo: string; createdAt: number }>;
  refunds: Map<string, SimRefund>;
  bills: Map<string, BillFile>;
  /** Bill date → rows of other apps or merchants sharing the merchant id (bills.ts). */
  foreignBillRows: Map<string, ForeignBillRows[]>;
  stats: SimStats;
  /** Mini-program server APIs: tokens, shipping, phone codes (wxstate.ts). */
  wx: WxServerState;
}

/** `count` bill rows of another appid and/or mchid (every fifth a refund); the first use `outTradeNos`. */
export interface ForeignBillRows {
  count: number;
  appid: string;
  mchid: string;
  outTradeNos?: string[];
}

export function emptyState(opts: Pick<SimulatorOptions, "tokenLifetimeS" | "shippingVisibleAfterMs" | "tradeManaged"> = {}): SimState {
  return {
    codes: new Map(),
    users: new Map(),
    sessionKeys: new Map(),
    transactions: new Map(),
    prepays: new Map(),
    refunds: new Map(),
    bills: new Map(),
    foreignBillRows: new Map(),
    stats: { calls: {}, notificationsQueued: 0, notificationAttempts: 0, notificationsDelivered: 0 },
    wx: emptyWxServerState(opts),
  };
}

const DIGITS = "0123456789";
const HEX_LOWER = "0123456789abcdef";

export class SimContext {
  readonly clock: Clock;
  readonly random: Random;
  readonly faultRandom: Random;
  readonly timeScale: number;
  state: SimState;
  readonly certificates: PlatformCertificate[] = [];
  readonly publicKey: (PublicKeyOption & { key: Promise<CryptoKey> }) | null;
  readonly merchantKey: Promise<CryptoKey>;
  signing: SigningState;
  /** Set by createSimulator right after construction. */
  faults!: Faults;
  notifier!: Notifier;
  pusher!: Pusher;
  private seq = 0;

  constructor(readonly opts: SimulatorOptions) {
    this.clock = opts.clock;
    this.state = emptyState(opts);
    this.random = opts.random ?? cryptoRandom;
    this.faultRandom = seededRandom(opts.faultSeed ?? 42);
    this.timeScale = opts.timeScale ?? 0;
    this.merchantKey = importPublicKey(opts.merchant.publicKeyPem);
    this.merchantKey.catch(() => {});
    for (const c of opts.platform.certificates) this.addCertificate(c);
    const pk = opts.platform.publicKey;
    this.publicKey = pk ? { ...pk, key: importPrivateKey(pk.privateKeyPem) } : null;
    this.publicKey?.key.catch(() => {});
    this.signing = {
      responses: "follow",
      notifications: opts.signWith ?? (this.certificates.length > 0 ? "certificate" : "publicKey"),
      publicKeyRatio: null,
      activeCertificate: this.certificates[0]?.serial ?? null,
    };
  }

  addCertificate(c: PlatformCertificateOption): void {
    const info = certificateInfo(c.certificatePem);
    if (info.serial !== c.serial.toUpperCase()) {
      throw new Error(`simulator: certificate serial ${info.serial} does not match ${c.serial}`);
    }
    const key = importPrivateKey(c.privateKeyPem);
    key.catch(() => {});
    const existing = this.certificates.findIndex((x) => x.serial === info.serial);
    const entry = { ...c, serial: info.serial, notBefore: info.notBefore, notAfter: info.notAfter, key };
    if (existing >= 0) this.certificates[existing] = entry;
    else this.certificates.push(entry);
    if (this.signing && !this.signing.activeCertificate) this.signing.activeCertificate = info.serial;
  }

  /** The signer for a mode, falling back to the other mode when this one has no key. */
  signer(mode: KeyMode): Signer {
    const cert =
      this.certificates.find((c) => c.serial === this.signing.activeCertificate) ?? this.certificates[0];
    if (mode === "publicKey" && this.publicKey) return { serial: this.publicKey.id, key: this.publicKey.key };
    if (cert) return { serial: cert.serial, key: cert.key };
    if (this.publicKey) return { serial: this.publicKey.id, key: this.publicKey.key };
    throw new Error("simulator: no platform certificate and no public key configured");
  }

  /** Response signer (C.5): follows the request's Wechatpay-Serial unless forced. */
  responseSigner(requestSerial: string | null): Signer {
    const s = this.signing.responses;
    if (s !== "follow") return this.signer(s);
    const wantsPublicKey = !!this.publicKey && requestSerial === this.publicKey.id;
    return this.signer(wantsPublicKey ? "publicKey" : "certificate");
  }

  /** Notification signer: the configured mode, or a seeded draw for a mixed rollout. */
  notificationSigner(): Signer {
    const ratio = this.signing.publicKeyRatio;
    if (ratio !== null) return this.signer(this.chance(ratio) ? "publicKey" : "certificate");
    return this.signer(this.signing.notifications);
  }

  /** A seeded draw in [0, 1) < p (faults and rollout ratios). */
  chance(p: number): boolean {
    const b = this.faultRandom.bytes(4);
    const x = ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
    return x / 2 ** 32 < p;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  // --- ids shaped like WeChat's ---------------------------------------------------------------
  nonce32(): string {
    return randomString(this.random, 32);
  }
  /** 12-character AEAD nonce (G.3). */
  nonce12(): string {
    return randomString(this.random, 12);
  }
  requestId(): string {
    return randomString(this.random, 34, "0123456789ABCDEF");
  }
  prepayId(): string {
    return `wx${compactCst(this.clock.now())}${randomString(this.random, 20, HEX_LOWER)}`;
  }
  transactionId(): string {
    return `4200${randomString(this.random, 24, DIGITS)}`;
  }
  refundId(): string {
    return `50${randomString(this.random, 27, DIGITS)}`;
  }
  eventId(): string {
    return `EV-${compactCst(this.clock.now())}${randomString(this.random, 6, DIGITS)}${String(this.nextSeq()).padStart(6, "0")}`;
  }
  openid(): string {
    return `o${randomString(this.random, 27, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")}`;
  }
  loginCode(): string {
    return randomString(this.random, 32);
  }

  countCall(method: string, path: string): void {
    const k = `${method} ${path}`;
    this.state.stats.calls[k] = (this.state.stats.calls[k] ?? 0) + 1;
  }
}

/**
 * @module test/simulator/types — options and public shapes of the WeChat simulator.
 * The simulator is an independent implementation of the protocol (WECHATPAY.md A–I); it never
 * imports src/wechat/pay, so a bug in the Worker's protocol core cannot be mirrored here.
 */
import type { Clock } from "../../src/lib/clock";
import type { Random } from "../../src/lib/random";
import type { PushTarget } from "./push";

export interface PlatformCertificateOption {
  /** Upper-case hex serial, leading zeros kept (C.5). */
  serial: string;
  privateKeyPem: string;
  certificatePem: string;
}

export interface PublicKeyOption {
  /** `PUB_KEY_ID_…` (C.5 (2)). */
  id: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

export type KeyMode = "certificate" | "publicKey";

export interface SimulatorOptions {
  appid: string;
  appsecret: string;
  mchid: string;
  /** 32-character APIv3 key (G.3). */
  apiv3Key: string;
  merchant: { serial: string; publicKeyPem: string };
  platform: { certificates: PlatformCertificateOption[]; publicKey?: PublicKeyOption | null };
  /** Mode for notifications (and for responses when the request does not ask for the public key). */
  signWith?: KeyMode;
  clock: Clock;
  random?: Random;
  /** How notifications reach notify_url; default: global fetch. */
  deliver?: (req: Request) => Promise<Response>;
  /** Multiplies WeChat's retry delays (G.5) in real time; 0 (default) = manual (`deliverDue`/`flush`). */
  timeScale?: number;
  /** Seed of the random used by probabilistic faults (default 42). */
  faultSeed?: number;
  /** Refunds settle to SUCCESS by themselves this many clock ms after creation (default: manual). */
  refundAutoSettleMs?: number | null;
  /** When true, jsapi accepts a payer.openid the simulator never minted (default false). */
  acceptAnyOpenid?: boolean;
  /** Closing an already-closed order: "ORDER_CLOSED" (400, WECHATPAY.md F.3; default) or "204". */
  closeClosed?: "ORDER_CLOSED" | "204";
  /** Notification delivery timeout in real ms (WeChat: 5 s, G.4). */
  notifyTimeoutMs?: number;
  /** Origin used in bill download URLs; default: the origin of the tradebill request. */
  baseUrl?: string;
  /** Message push (WECHATPAY.md O): where and how to push events; unset = no pushes. */
  push?: PushTarget;
  /** Lifetime of access tokens from stable_token, seconds (default 7200, WECHATPAY.md M.1). */
  tokenLifetimeS?: number;
  /** A payment stays invisible to the shipping APIs this long after it succeeds (default 0; N.2: 10060001). */
  shippingVisibleAfterMs?: number;
  /** What is_trade_managed answers (default true). */
  tradeManaged?: boolean;
}

export type TradeState = "NOTPAY" | "SUCCESS" | "CLOSED" | "REFUND";
export type RefundStatus = "PROCESSING" | "SUCCESS" | "CLOSED" | "ABNORMAL";

/** The simulator's record of one order (what WeChat holds). */
export interface SimTransaction {
  appid: string;
  mchid: string;
  outTradeNo: string;
  description: string;
  attach?: string;
  notifyUrl: string;
  timeExpire?: string;
  /** Clock ms after which the order can no longer be paid. */
  expiresAt: number;
  total: number;
  currency: string;
  openid: string;
  /** Canonical JSON of the prepay body, to detect "same number, other parameters" (D.2). */
  params: string;
  state: "NOTPAY" | "SUCCESS" | "CLOSED";
  transactionId?: string;
  successTime?: number;
  createdAt: number;
  closedAt?: number;
  prepayIds: string[];
}

export interface SimRefund {
  refundId: string;
  outRefundNo: string;
  outTradeNo: string;
  transactionId: string;
  reason?: string;
  notifyUrl: string;
  refund: number;
  total: number;
  currency: string;
  status: RefundStatus;
  createdAt: number;
  successTime?: number;
  settleAt?: number;
}

/** Result of `pay()`, shaped like the wx.requestPayment callback (E). */
export interface PayResult {
  errMsg: string;
  ok: boolean;
  transactionId?: string;
  outTradeNo?: string;
}

export interface RequestPaymentParams {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: string;
  paySign: string;
}

export interface DeliveryRecord {
  eventId: string;
  eventType: string;
  url: string;
  /** 1-based attempt number (G.5: at most 16). */
  attempt: number;
  /** Copy number when a duplicate fault delivers several copies (1-based). */
  copy: number;
  /** Clock ms of the attempt. */
  at: number;
  /** HTTP status, or "error" (network), "timeout" (> notifyTimeoutMs), "dropped". */
  status: number | "error" | "timeout" | "dropped";
  /** Which fault altered this attempt, if any. */
  fault?: string;
  serial?: string;
}

export interface SimStats {
  /** `"METHOD /path"` → number of calls. */
  calls: Record<string, number>;
  notificationsQueued: number;
  notificationAttempts: number;
  notificationsDelivered: number;
}

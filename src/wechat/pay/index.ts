/**
 * @module wechat/pay — the WeChat Pay APIv3 core, wired: `createWechatPay({ config, deps, db })`.
 *
 * Cheap to call per request: everything expensive (merchant key import, verify-key imports, AES
 * keys, platform certificates) is cached per isolate, in module-level maps and one certificate
 * cache per (API base, mchid). Tests pass their own `certificateCache` to start from nothing.
 */
import type { Config } from "../../config";
import type { AppDeps, Db } from "../../context";
import { type CertificateCache, CertificateStore, createCertificateCache } from "./certificates";
import { createTransport, createWechatPayClient, type TransportOptions } from "./client";
import { createKeyResolver } from "./keys";
import { type NotificationInput, verifyNotification } from "./notification";
import { requestPaymentParams } from "./payment";
import type { RequestPaymentParams, VerifiedNotification, WechatPayPort } from "./port";
import { importMerchantKey } from "./signer";

export interface WechatPay {
  port: WechatPayPort;
  /** `wx.requestPayment` parameters for a prepay_id, signed now with the merchant key (E). */
  requestPayment(prepayId: string): Promise<RequestPaymentParams>;
  /** Verifies (raw body), checks the algorithm, decrypts. Throws a WechatPayError with `notifyStatus`. */
  verifyNotification(input: NotificationInput): Promise<VerifiedNotification>;
  /** For the cron: downloads /v3/certificates when forced or older than 12 h (C.5). */
  refreshCertificates(opts?: { force?: boolean }): Promise<{ refreshed: boolean; serials: string[] }>;
}

export interface CreateWechatPayInput {
  config: Config;
  deps: AppDeps;
  db: Db;
  /** Transport tuning (timeout per attempt, retries, back-off, User-Agent). */
  options?: TransportOptions;
  /** Per-isolate certificate state; by default shared per (API base, mchid). */
  certificateCache?: CertificateCache;
}

const caches = new Map<string, CertificateCache>();

function sharedCache(config: Config): CertificateCache {
  const k = `${config.wxpayApiBase}|${config.mchid}`;
  let c = caches.get(k);
  if (!c) {
    c = createCertificateCache();
    caches.set(k, c);
  }
  return c;
}

export function createWechatPay(input: CreateWechatPayInput): WechatPay {
  const { config, deps, db } = input;
  const transport = createTransport(config, deps, input.options ?? deps.upstream?.wechatPay);
  const publicOnly = createKeyResolver({ publicKey: config.publicKey, certificates: null });
  const certificates = new CertificateStore({
    db,
    clock: deps.clock,
    logger: deps.logger,
    cache: input.certificateCache ?? sharedCache(config),
    transport,
    apiv3Key: config.apiv3Key,
    fallback: publicOnly,
  });
  const keys = createKeyResolver({ publicKey: config.publicKey, certificates });

  return {
    port: createWechatPayClient({ config, transport, keys, clock: deps.clock, logger: deps.logger }),
    async requestPayment(prepayId) {
      const key = await importMerchantKey(config.mchPrivateKeyPem);
      return requestPaymentParams({ key, appId: config.appid, prepayId, clock: deps.clock, random: deps.random });
    },
    verifyNotification(n) {
      return verifyNotification(n, { keys, clock: deps.clock, apiv3Key: config.apiv3Key });
    },
    refreshCertificates(opts) {
      return certificates.refresh(opts);
    },
  };
}

export * from "./errors";
export type * from "./port";
export { MAX_CLOCK_SKEW_SECONDS } from "./verifier";

/**
 * @module wechat/pay/certificates — platform certificates (certificate mode, WECHATPAY.md C.5):
 * download `/v3/certificates`, decrypt each `encrypt_certificate` (AAD "certificate"), parse the
 * X.509, verify the download with the certificate it contains (bootstrap), store rows in D1 by
 * serial, and resolve serials to keys — from memory, then D1, then ONE rate-limited refresh.
 *
 * Refresh policy (SPEC §8, "cannot be starved"): the cron calls `refresh()` (re-downloads when the
 * last download is older than 12 h; WeChat asks for < 12 h). A serial that cannot be a certificate
 * serial (a `PUB_KEY_ID_…` this deployment was not configured with, anything not hex) never
 * downloads. An unknown serial on an *answer* to our own call (it came over TLS from WeChat: a
 * genuine rotation) downloads at once; unknown serials on *notifications* (anyone can POST one)
 * share one forced refresh at most every 60 s per deployment (claimed atomically in `kv`, and in
 * memory), so bogus serials can delay a rotation's first notification by one WeChat retry at most
 * and never block an answer. Public-key-only merchants get 404 RESOURCE_NOT_EXISTS: that is "no
 * certificates", not an error.
 */
import { desc, eq, gt, lte, notInArray } from "drizzle-orm";
import type { Clock } from "../../lib/clock";
import { fromBase64, fromUtf8 } from "../../lib/encoding";
import type { Logger } from "../../lib/log";
import type { Db } from "../../context";
import { kv, platformCertificates } from "../../db/schema";
import { AEAD_ALGORITHM, type AeadOptions, decryptAead } from "./aead";
import type { Transport } from "./client";
import { ApiError, IndeterminateError, UnknownSerial, WechatPayError } from "./errors";
import { importSpki, parseCertificate } from "./keys";
import { type KeyResolver, type SerialOrigin, verifySignedMessage } from "./verifier";

export const REFRESH_INTERVAL_MS = 12 * 3600_000;
export const ON_DEMAND_MIN_INTERVAL_MS = 60_000;
/** An X.509 serial is at most 20 octets; WeChat writes it as (upper-case) hex, leading zeros kept. */
const CERTIFICATE_SERIAL = /^[0-9A-F]{1,40}$/;
const KV_REFRESHED_AT = "wxpay.certificates.refreshed_at";
const KV_ON_DEMAND_AT = "wxpay.certificates.on_demand_at";

export interface PlatformCertificate {
  serial: string;
  spkiBase64: string;
  pem: string;
  effectiveAt: number;
  expiresAt: number;
}

/** Per-isolate state; one shared instance by default (index.ts), fresh ones in tests. */
export interface CertificateCache {
  certs: Map<string, PlatformCertificate>;
  lastOnDemandAt: number | null;
  /** The on-demand refresh in progress (claim + download), shared by concurrent misses. */
  onDemand: Promise<void> | null;
  /** The download in progress, shared by the cron and on-demand refreshes. */
  inflight: Promise<string[]> | null;
}

export const createCertificateCache = (): CertificateCache => ({ certs: new Map(), lastOnDemandAt: null, onDemand: null, inflight: null });

/**
 * Decrypts and parses a `/v3/certificates` body. Every entry must decrypt (a wrong APIv3 key is
 * a DecryptError) and its parsed serial must equal `serial_no`.
 */
export async function decryptCertificateList(body: string, apiv3Key: string, opts: AeadOptions = {}): Promise<PlatformCertificate[]> {
  let data: unknown;
  try {
    data = (JSON.parse(body) as { data?: unknown }).data;
  } catch {
    data = undefined;
  }
  if (!Array.isArray(data)) throw new IndeterminateError("/v3/certificates answer has no data array");
  const out: PlatformCertificate[] = [];
  for (const item of data as Record<string, unknown>[]) {
    const enc = (item?.encrypt_certificate ?? {}) as Record<string, unknown>;
    if (enc.algorithm !== AEAD_ALGORITHM || typeof enc.ciphertext !== "string" || typeof enc.nonce !== "string") {
      throw new IndeterminateError("/v3/certificates entry is not an AEAD_AES_256_GCM encrypt_certificate");
    }
    const pem = await decryptAead(
      apiv3Key,
      { nonce: enc.nonce, associatedData: typeof enc.associated_data === "string" ? enc.associated_data : "", ciphertext: enc.ciphertext },
      opts,
    );
    const c = parseCertificate(pem);
    if (typeof item.serial_no === "string" && item.serial_no.toUpperCase() !== c.serial) {
      throw new IndeterminateError(`/v3/certificates entry serial_no ${item.serial_no} does not match its certificate (${c.serial})`);
    }
    out.push({ serial: c.serial, spkiBase64: c.spkiBase64, pem, effectiveAt: c.notBefore, expiresAt: c.notAfter });
  }
  return out;
}

/** Usable now: not expired; not before its validity (with the same 300 s tolerance as C.3). */
const usable = (c: PlatformCertificate, now: number): boolean => now < c.expiresAt && now >= c.effectiveAt - 300_000;

export class CertificateStore implements KeyResolver {
  constructor(
    private readonly o: {
      db: Db;
      clock: Clock;
      logger: Logger;
      cache: CertificateCache;
      transport: Transport;
      apiv3Key: string;
      /** Keys other than the downloaded certificates that may sign the download (the public key). */
      fallback: KeyResolver;
    },
  ) {}

  async resolve(serialHeader: string, origin: SerialOrigin = "notification"): Promise<CryptoKey> {
    const serial = serialHeader.toUpperCase();
    if (!CERTIFICATE_SERIAL.test(serial)) {
      // Nothing to look up or download: no certificate has this serial.
      throw new UnknownSerial(
        serialHeader,
        serial.startsWith("PUB_KEY_ID_")
          ? `Wechatpay-Serial ${serialHeader} is a WeChat Pay public key id, not a certificate serial: set WXPAY_PUBLIC_KEY_ID and WXPAY_PUBLIC_KEY to verify it`
          : `Wechatpay-Serial ${serialHeader} is not a platform certificate serial (hex, at most 40 digits): not verified`,
      );
    }
    let cert = this.o.cache.certs.get(serial);
    if (!cert) {
      await this.loadFromDb();
      cert = this.o.cache.certs.get(serial);
    }
    if (!cert) {
      await (origin === "answer" ? this.refreshForAnswer(serial) : this.refreshOnDemand(serial));
      cert = this.o.cache.certs.get(serial);
      if (!cert) throw new UnknownSerial(serialHeader);
    }
    if (!usable(cert, this.o.clock.now())) {
      throw new UnknownSerial(serialHeader, `platform certificate ${serial} is expired or not yet valid: it is not used`);
    }
    return importSpki(cert.spkiBase64);
  }

  /** The cron's entry: downloads when forced or when the last download is older than 12 h. */
  async refresh(opts: { force?: boolean } = {}): Promise<{ refreshed: boolean; serials: string[] }> {
    if (!opts.force) {
      const row = await this.o.db.select().from(kv).where(eq(kv.key, KV_REFRESHED_AT)).get();
      const newest = await this.o.db.select({ at: platformCertificates.fetchedAt }).from(platformCertificates).orderBy(desc(platformCertificates.fetchedAt)).limit(1).get();
      const last = Math.max(row ? Number(row.value) : 0, newest?.at ?? 0);
      if (this.o.clock.now() - last < REFRESH_INTERVAL_MS) {
        await this.loadFromDb();
        return { refreshed: false, serials: [...this.o.cache.certs.values()].filter((c) => usable(c, this.o.clock.now())).map((c) => c.serial) };
      }
    }
    return { refreshed: true, serials: await this.download() };
  }

  private async loadFromDb(): Promise<void> {
    const rows = await this.o.db.select().from(platformCertificates).where(gt(platformCertificates.expiresAt, this.o.clock.now())).all();
    for (const r of rows) {
      this.o.cache.certs.set(r.serialNo, { serial: r.serialNo, spkiBase64: r.publicKeySpki, pem: r.certificatePem, effectiveAt: r.effectiveAt, expiresAt: r.expiresAt });
    }
  }

  /**
   * An answer of WeChat's own signed with a certificate we do not have yet (a rotation): download
   * now, outside the notifications' budget (concurrent callers share the download).
   */
  private async refreshForAnswer(serial: string): Promise<void> {
    this.o.logger.info("wxpay unknown serial on an answer: refreshing platform certificates", { serial });
    await this.download().catch((cause: unknown) => this.refreshFailed(serial, cause));
  }

  private refreshFailed(serial: string, cause: unknown): void {
    this.o.logger.warn("wxpay certificate refresh failed", { serial, failure: cause instanceof WechatPayError ? cause.code : "error", error: cause });
  }

  /** Notifications: at most one forced refresh per 60 s for unknown serials; concurrent callers share it. */
  private async refreshOnDemand(serial: string): Promise<void> {
    const cache = this.o.cache;
    if (!cache.onDemand) {
      const now = this.o.clock.now();
      if (cache.lastOnDemandAt !== null && now - cache.lastOnDemandAt < ON_DEMAND_MIN_INTERVAL_MS) return;
      cache.lastOnDemandAt = now;
      cache.onDemand = this.claimAndDownload(serial, now).finally(() => {
        cache.onDemand = null;
      });
    }
    await cache.onDemand;
  }

  private async claimAndDownload(serial: string, now: number): Promise<void> {
    try {
      // Atomic claim across isolates: the upsert only wins when the last claim is ≥ 60 s old.
      const claimed = await this.o.db
        .insert(kv)
        .values({ key: KV_ON_DEMAND_AT, value: String(now), updatedAt: now })
        .onConflictDoUpdate({ target: kv.key, set: { value: String(now), updatedAt: now }, setWhere: lte(kv.updatedAt, now - ON_DEMAND_MIN_INTERVAL_MS) })
        .returning({ key: kv.key });
      if (claimed.length === 0) return;
      this.o.logger.info("wxpay unknown serial: refreshing platform certificates", { serial });
      await this.download();
    } catch (cause) {
      this.refreshFailed(serial, cause);
    }
  }

  private download(): Promise<string[]> {
    if (!this.o.cache.inflight) {
      this.o.cache.inflight = this.downloadOnce().finally(() => {
        this.o.cache.inflight = null;
      });
    }
    return this.o.cache.inflight;
  }

  private async downloadOnce(): Promise<string[]> {
    const now = this.o.clock.now();
    let certs: PlatformCertificate[];
    try {
      const res = await this.o.transport.send({ method: "GET", url: "/v3/certificates" });
      const body = fromUtf8(res.body);
      certs = await decryptCertificateList(body, this.o.apiv3Key);
      await this.verifyDownload(res.headers, res.body, certs);
    } catch (err) {
      // L.2: public-key-only merchants have no platform certificates.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      this.o.logger.info("wxpay /v3/certificates: none (404); public-key-only merchant", { code: err.code, requestId: err.requestId });
      certs = [];
    }
    const live = certs.filter((c) => c.expiresAt > now);
    const writes = [
      ...live.map((c) =>
        this.o.db
          .insert(platformCertificates)
          .values({ serialNo: c.serial, publicKeySpki: c.spkiBase64, certificatePem: c.pem, effectiveAt: c.effectiveAt, expiresAt: c.expiresAt, fetchedAt: now })
          .onConflictDoUpdate({ target: platformCertificates.serialNo, set: { publicKeySpki: c.spkiBase64, certificatePem: c.pem, effectiveAt: c.effectiveAt, expiresAt: c.expiresAt, fetchedAt: now } }),
      ),
      // The signed list is authoritative: expired or revoked certificates leave the table.
      live.length > 0
        ? this.o.db.delete(platformCertificates).where(notInArray(platformCertificates.serialNo, live.map((c) => c.serial)))
        : this.o.db.delete(platformCertificates),
      this.o.db
        .insert(kv)
        .values({ key: KV_REFRESHED_AT, value: String(now), updatedAt: now })
        .onConflictDoUpdate({ target: kv.key, set: { value: String(now), updatedAt: now } }),
    ];
    await this.o.db.batch(writes as unknown as Parameters<Db["batch"]>[0]);
    this.o.cache.certs.clear();
    for (const c of live) this.o.cache.certs.set(c.serial, c);
    this.o.logger.info("wxpay platform certificates refreshed", { serials: live.map((c) => c.serial) });
    return live.map((c) => c.serial);
  }

  /** C.5 bootstrap: the answer must verify with a certificate it contains (or the public key). */
  private async verifyDownload(headers: Headers, body: Uint8Array, certs: PlatformCertificate[]): Promise<void> {
    const now = this.o.clock.now();
    const keys: KeyResolver = {
      resolve: (serialHeader) => {
        const c = certs.find((x) => x.serial === serialHeader.toUpperCase());
        if (c && usable(c, now)) return importSpki(c.spkiBase64, fromBase64(c.spkiBase64) ?? undefined);
        const known = this.o.cache.certs.get(serialHeader.toUpperCase());
        if (known && usable(known, now)) return importSpki(known.spkiBase64);
        return this.o.fallback.resolve(serialHeader);
      },
    };
    try {
      await verifySignedMessage({ headers, body, clock: this.o.clock, keys, origin: "answer" });
    } catch (cause) {
      throw new IndeterminateError("/v3/certificates answer did not verify with any certificate it contains: not trusted", { cause });
    }
  }
}

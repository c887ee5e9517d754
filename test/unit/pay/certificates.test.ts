/**
 * Verification keys by serial (WECHATPAY.md C.5): bootstrap download, D1 storage, one
 * rate-limited refresh on an unknown serial, rotation, expiry, public-key and mixed modes.
 */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/lib/clock";
import * as schema from "../../../src/db/schema";
import { createCertificateCache } from "../../../src/wechat/pay/certificates";
import { DecryptError, UnknownSerial } from "../../../src/wechat/pay/errors";
import { createWechatPay } from "../../../src/wechat/pay/index";
import * as keys from "../../fixtures/keys";
import { CERT1, CERT2, FakeWechat, PLATFORM1, PLATFORM2, PUBKEY, type Signer, T0, freshDb, publicKeyEnv, signedHeaders, testConfig, testDeps } from "./support";
import { encryptAead } from "../../../src/wechat/pay/aead";

const UNKNOWN: Signer = { serial: "7132D72A03E93CDDF8C03BBD1F37EEDF204C6B6A", privateKeyPem: keys.PLATFORM2_PRIVATE_KEY };

async function setup(env: Record<string, string> = {}, clock = new FakeClock(T0)) {
  const fake = new FakeWechat();
  const deps = testDeps(fake.fetch, clock);
  fake.now = () => clock.now();
  const db = await freshDb();
  const cache = createCertificateCache();
  const make = (c = cache) => createWechatPay({ config: testConfig(env), deps, db, certificateCache: c });
  return { fake, deps, db, clock, cache, make, pay: make() };
}

/** A real, encrypted TRANSACTION.SUCCESS notification signed by `signer` at the clock's time. */
async function notification(signer: Signer, clock: FakeClock) {
  const tx = { appid: keys.APPID, mchid: keys.MCHID, out_trade_no: "ORD_1", transaction_id: "4200000000000000001", trade_state: "SUCCESS", amount: { total: 1800 } };
  const ciphertext = await encryptAead(keys.APIV3_KEY, { nonce: "fdasflkja484", associatedData: "transaction" }, JSON.stringify(tx));
  const rawBody = JSON.stringify({
    id: `EV-${signer.serial.slice(0, 8)}`,
    create_time: "2026-11-29T20:00:00+08:00",
    event_type: "TRANSACTION.SUCCESS",
    resource_type: "encrypt-resource",
    summary: "支付成功",
    resource: { original_type: "transaction", algorithm: "AEAD_AES_256_GCM", ciphertext, associated_data: "transaction", nonce: "fdasflkja484" },
  });
  return { headers: await signedHeaders(signer, rawBody, { ts: Math.floor(clock.now() / 1000) }), rawBody };
}

describe("certificate mode: bootstrap and storage", () => {
  it("first sight of a serial downloads /v3/certificates once, verifies it with the cert it contains, stores rows", async () => {
    const { fake, db, clock, pay, make } = await setup();
    const n = await pay.verifyNotification(await notification(PLATFORM1, clock));
    expect(n.serial).toBe(keys.PLATFORM1_SERIAL);
    expect(n.resource).toMatchObject({ out_trade_no: "ORD_1", trade_state: "SUCCESS" });
    const dl = fake.callsTo("/v3/certificates");
    expect(dl).toHaveLength(1);
    expect(dl[0]!.headers.get("Authorization")).toMatch(/^WECHATPAY2-SHA256-RSA2048 mchid=/);
    const rows = await db.select().from(schema.platformCertificates).all();
    expect(rows).toEqual([
      {
        serialNo: keys.PLATFORM1_SERIAL,
        publicKeySpki: expect.stringMatching(/^MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA/),
        certificatePem: keys.PLATFORM1_CERTIFICATE,
        effectiveAt: Date.parse("2026-11-29T11:52:53Z"),
        expiresAt: Date.parse("2031-11-28T11:52:53Z"),
        fetchedAt: T0,
      },
    ]);
    // Same isolate: memory. A new isolate (fresh cache): D1. Neither downloads again.
    await pay.verifyNotification(await notification(PLATFORM1, clock));
    await make(createCertificateCache()).verifyNotification(await notification(PLATFORM1, clock));
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
  });

  it("keeps a leading-zero serial intact (0A7C…) end to end", async () => {
    const { fake, db, clock, pay } = await setup();
    fake.certificates = [CERT2];
    fake.certificatesSigner = PLATFORM2;
    expect((await pay.verifyNotification(await notification(PLATFORM2, clock))).serial).toBe("0A7C2E1D3B4F5A6978877665544332211FFEEDDC");
    expect((await db.select().from(schema.platformCertificates).all()).map((r) => r.serialNo)).toEqual(["0A7C2E1D3B4F5A6978877665544332211FFEEDDC"]);
  });

  it("a download signed by a key it does not contain is not trusted: nothing stored, UnknownSerial", async () => {
    const { fake, db, clock, pay } = await setup();
    fake.certificates = [CERT1];
    fake.certificatesSigner = PLATFORM2; // serial 0A7C… is not in the list and not known
    await expect(pay.verifyNotification(await notification(PLATFORM1, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(await db.select().from(schema.platformCertificates).all()).toEqual([]);
  });

  it("a wrong APIv3 key fails the refresh with DecryptError", async () => {
    const { fake, deps, db } = await setup();
    const pay = createWechatPay({ config: testConfig({ WXPAY_APIV3_KEY: "x".repeat(32) }), deps, db, certificateCache: createCertificateCache() });
    await expect(pay.refreshCertificates({ force: true })).rejects.toBeInstanceOf(DecryptError);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
  });
});

describe("unknown serial: exactly one refresh, then failure (rate-limited)", () => {
  it("refreshes once, fails; a second unknown serial within 60 s does not fetch; after 60 s it may again", async () => {
    const { fake, clock, pay, make } = await setup();
    await pay.refreshCertificates({ force: true });
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
    await expect(pay.verifyNotification(await notification(UNKNOWN, clock))).rejects.toMatchObject({ name: "UnknownSerial", notifyStatus: 401 });
    expect(fake.callsTo("/v3/certificates")).toHaveLength(2);
    await expect(pay.verifyNotification(await notification(UNKNOWN, clock))).rejects.toBeInstanceOf(UnknownSerial);
    // Another isolate (fresh memory) is held back by the kv claim.
    await expect(make(createCertificateCache()).verifyNotification(await notification(UNKNOWN, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(2);
    clock.advance(60_000);
    await expect(pay.verifyNotification(await notification(UNKNOWN, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(3);
  });

  it("the isolate remembers its own attempt even if the kv claim is gone; concurrent misses share one download", async () => {
    const { fake, db, clock, pay } = await setup();
    await Promise.all([1, 2, 3].map(async () => expect(pay.verifyNotification(await notification(UNKNOWN, clock))).rejects.toBeInstanceOf(UnknownSerial)));
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
    await db.delete(schema.kv);
    await expect(pay.verifyNotification(await notification(UNKNOWN, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
  });

  it("the refresh finds a newly published certificate (rotation announced after our last download), for concurrent callers too", async () => {
    const { fake, clock, pay } = await setup();
    await pay.refreshCertificates({ force: true });
    fake.certificates = [CERT1, CERT2];
    const results = await Promise.all([1, 2, 3].map(async () => (await pay.verifyNotification(await notification(PLATFORM2, clock))).serial));
    expect(results).toEqual([keys.PLATFORM2_SERIAL, keys.PLATFORM2_SERIAL, keys.PLATFORM2_SERIAL]);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(2);
  });
});

describe("refresh cannot be starved (SPEC §8)", () => {
  it("a serial that cannot be a certificate serial never downloads and spends no budget", async () => {
    const { fake, clock, pay } = await setup();
    const bogus: Signer[] = [
      PUBKEY, // PUB_KEY_ID_… sent to a deployment without a public key
      { serial: "NOT-A-SERIAL", privateKeyPem: keys.PLATFORM2_PRIVATE_KEY },
      { serial: "AB".repeat(21), privateKeyPem: keys.PLATFORM2_PRIVATE_KEY }, // 21 octets: longer than any X.509 serial
    ];
    for (const signer of bogus) {
      await expect(pay.verifyNotification(await notification(signer, clock))).rejects.toBeInstanceOf(UnknownSerial);
    }
    await expect(pay.verifyNotification(await notification(PUBKEY, clock))).rejects.toThrow(/WXPAY_PUBLIC_KEY_ID/);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(0);
    // The 60-s budget is intact: a genuine new certificate on a notification is fetched at once.
    fake.certificates = [CERT1, CERT2];
    expect((await pay.verifyNotification(await notification(PLATFORM2, clock))).serial).toBe(keys.PLATFORM2_SERIAL);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
  });

  it("an unknown serial on a WeChat answer downloads at once, even when notifications just spent the budget", async () => {
    const clock = new FakeClock(T0);
    const { fake, pay } = await setup({}, clock);
    await expect(pay.verifyNotification(await notification(UNKNOWN, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
    // WeChat rotates: the new certificate is listed and signs its answers from now on.
    clock.advance(10_000);
    fake.certificates = [CERT1, CERT2];
    fake.signer = PLATFORM2;
    fake.route = () => ({ status: 204 });
    await pay.port.closeOrder("ORD_1");
    expect(fake.callsTo("/v3/certificates")).toHaveLength(2);
    // Notifications still share their budget: another unknown serial within the minute is not fetched.
    await expect(pay.verifyNotification(await notification(UNKNOWN, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(2);
  });
});

describe("rotation: two valid certificates at once", () => {
  it("each verifies its own messages and not the other's", async () => {
    const { fake, clock, pay } = await setup();
    fake.certificates = [CERT1, CERT2];
    for (const s of [PLATFORM1, PLATFORM2, PLATFORM1, PLATFORM2]) {
      expect((await pay.verifyNotification(await notification(s, clock))).serial).toBe(s.serial);
    }
    const forged = await notification(PLATFORM2, clock);
    forged.headers.set("Wechatpay-Serial", keys.PLATFORM1_SERIAL);
    await expect(pay.verifyNotification(forged)).rejects.toMatchObject({ name: "BadSignature" });
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
  });
});

describe("expiry", () => {
  it("an expired certificate is not used: not from memory, not from D1, not from a fresh download", async () => {
    const { fake, clock, pay, make } = await setup();
    await pay.refreshCertificates({ force: true });
    await pay.verifyNotification(await notification(PLATFORM1, clock));
    clock.set(Date.parse("2031-11-28T11:52:53Z") + 1000);
    // Memory still holds it: refused without a download (a refresh cannot un-expire it).
    await expect(pay.verifyNotification(await notification(PLATFORM1, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
    // A fresh isolate: D1 rows past expires_at are ignored; the refresh lists only the expired one.
    await expect(make(createCertificateCache()).verifyNotification(await notification(PLATFORM1, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(2);
  });
});

describe("refreshCertificates (the cron)", () => {
  it("downloads when never fetched or older than 12 h; otherwise not; force always", async () => {
    const { fake, clock, pay } = await setup();
    fake.certificates = [CERT1, CERT2];
    expect(await pay.refreshCertificates()).toEqual({ refreshed: true, serials: [keys.PLATFORM1_SERIAL, keys.PLATFORM2_SERIAL] });
    clock.advance(12 * 3600_000 - 1);
    expect(await pay.refreshCertificates()).toEqual({ refreshed: false, serials: [keys.PLATFORM1_SERIAL, keys.PLATFORM2_SERIAL] });
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
    clock.advance(1);
    expect((await pay.refreshCertificates()).refreshed).toBe(true);
    expect((await pay.refreshCertificates({ force: true })).refreshed).toBe(true);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(3);
  });
  it("drops certificates WeChat no longer lists", async () => {
    const { fake, db, pay } = await setup();
    fake.certificates = [CERT1, CERT2];
    await pay.refreshCertificates({ force: true });
    fake.certificates = [CERT2];
    fake.certificatesSigner = PLATFORM2;
    expect(await pay.refreshCertificates({ force: true })).toEqual({ refreshed: true, serials: [keys.PLATFORM2_SERIAL] });
    expect((await db.select().from(schema.platformCertificates).all()).map((r) => r.serialNo)).toEqual([keys.PLATFORM2_SERIAL]);
  });
});

describe("public-key mode and both modes at once", () => {
  it("public-key-only merchant: 404 RESOURCE_NOT_EXISTS is 'no certificates', not a crash", async () => {
    const { fake, clock, pay } = await setup(publicKeyEnv);
    fake.certificatesStatus = 404;
    expect(await pay.refreshCertificates({ force: true })).toEqual({ refreshed: true, serials: [] });
    expect((await pay.verifyNotification(await notification(PUBKEY, clock))).serial).toBe(keys.PUBLIC_KEY_ID);
    clock.advance(60_000);
    await expect(pay.verifyNotification(await notification(PLATFORM1, clock))).rejects.toBeInstanceOf(UnknownSerial);
    expect(fake.callsTo("/v3/certificates")).toHaveLength(2);
  });
  it("public-key notifications never touch /v3/certificates", async () => {
    const { fake, clock, pay } = await setup(publicKeyEnv);
    for (let i = 0; i < 3; i++) await pay.verifyNotification(await notification(PUBKEY, clock));
    expect(fake.calls).toHaveLength(0);
  });
  it("migration: public-key and certificate notifications both verify", async () => {
    const { fake, clock, pay } = await setup(publicKeyEnv);
    fake.certificates = [CERT1, CERT2];
    for (const s of [PUBKEY, PLATFORM1, PUBKEY, PLATFORM2]) {
      expect((await pay.verifyNotification(await notification(s, clock))).serial).toBe(s.serial);
    }
    expect(fake.callsTo("/v3/certificates")).toHaveLength(1);
  });
  it("a public-key-signed /v3/certificates answer is accepted (Wechatpay-Serial: PUB_KEY_ID sent)", async () => {
    const { fake, pay } = await setup(publicKeyEnv);
    fake.certificatesSigner = PUBKEY;
    expect(await pay.refreshCertificates({ force: true })).toEqual({ refreshed: true, serials: [keys.PLATFORM1_SERIAL] });
    expect(fake.callsTo("/v3/certificates")[0]!.headers.get("Wechatpay-Serial")).toBe(keys.PUBLIC_KEY_ID);
  });
  it("without a public key configured, a PUB_KEY_ID serial is unknown", async () => {
    const { clock, pay } = await setup();
    await expect(pay.verifyNotification(await notification(PUBKEY, clock))).rejects.toBeInstanceOf(UnknownSerial);
  });
});

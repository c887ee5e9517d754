/**
 * SPEC §8, "certificate refresh cannot be starved", as a new user meets it: a notification with a
 * `PUB_KEY_ID_…` serial reaches a certificate-only deployment, then, within the minute, WeChat
 * rotates its platform certificate and signs the next prepay answer with the new one.
 */
import { describe, expect, it } from "vitest";
import * as keys from "../fixtures/keys";
import { signedHeaders, PUBKEY } from "../unit/pay/support";
import { calls, errorOf, postOrder, setup } from "../unit/orders/support";

describe("platform certificate rotation right after a bogus serial", () => {
  it("the PUB_KEY_ID notification is refused without a download; the prepay signed by the new certificate succeeds", async () => {
    const { w, u } = await setup();
    const body = JSON.stringify({ id: "EV-PUBKEY-1", event_type: "TRANSACTION.SUCCESS", resource_type: "encrypt-resource", resource: {} });
    const headers = await signedHeaders(PUBKEY, body, { ts: Math.floor(w.clock.now() / 1000) });
    headers.set("content-type", "application/json");
    const refused = await w.request("POST", "/v1/pay/notify", { body, headers: Object.fromEntries(headers) });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string; message: string }).message).toMatch(/WXPAY_PUBLIC_KEY_ID/);

    w.sim.addCertificate({ serial: keys.PLATFORM2_SERIAL, privateKeyPem: keys.PLATFORM2_PRIVATE_KEY, certificatePem: keys.PLATFORM2_CERTIFICATE });
    w.sim.useCertificate(keys.PLATFORM2_SERIAL);
    w.clock.advance(30_000);

    // Before SPEC §8 this was 502 payment_provider_error ("did not answer definitively"): the bogus
    // serial had spent the minute's only refresh, so the new certificate could not be fetched.
    const res = await postOrder(w, u.token);
    if (res.status !== 201) throw new Error(`expected 201, got ${res.status}: ${JSON.stringify(await errorOf(res))}`);
    // One download, for the answer's new serial; none for the PUB_KEY_ID notification.
    expect(calls(w, "GET /v3/certificates")).toBe(1);
  });

  it("the same after a notification with an unknown hex serial spent the notifications' 60-s budget", async () => {
    // Its own per-isolate certificate cache (another API base) and no certificates left in D1 by the test above.
    const { w, u } = await setup({ env: { WXPAY_API_BASE: "https://api2.mch.weixin.qq.com" } });
    await w.env.DB.batch([w.env.DB.prepare("DELETE FROM platform_certificates"), w.env.DB.prepare("DELETE FROM kv")]);
    const body = JSON.stringify({ id: "EV-BOGUS-1", event_type: "TRANSACTION.SUCCESS", resource_type: "encrypt-resource", resource: {} });
    const bogus = { serial: "7132D72A03E93CDDF8C03BBD1F37EEDF204C6B6A", privateKeyPem: keys.PLATFORM2_PRIVATE_KEY };
    const headers = await signedHeaders(bogus, body, { ts: Math.floor(w.clock.now() / 1000) });
    headers.set("content-type", "application/json");
    expect((await w.request("POST", "/v1/pay/notify", { body, headers: Object.fromEntries(headers) })).status).toBe(401);
    const afterBogus = calls(w, "GET /v3/certificates");

    w.sim.addCertificate({ serial: keys.PLATFORM2_SERIAL, privateKeyPem: keys.PLATFORM2_PRIVATE_KEY, certificatePem: keys.PLATFORM2_CERTIFICATE });
    w.sim.useCertificate(keys.PLATFORM2_SERIAL);
    w.clock.advance(30_000);

    expect((await postOrder(w, u.token)).status).toBe(201);
    expect(calls(w, "GET /v3/certificates")).toBe(afterBogus + 1);
  });
});

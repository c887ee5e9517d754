/**
 * @module test/simulator/certificates — `GET /v3/certificates` (WECHATPAY.md C.5 (1)): every platform
 * certificate, PEM encrypted with the APIv3 key (AAD "certificate"), the answer signed like any
 * other (so a client must decrypt first, then verify with what it decrypted). A public-key-only
 * merchant gets 404 RESOURCE_NOT_EXISTS "无可用的平台证书".
 */
import type { Hono } from "hono";
import { answer, apiError, type SimEnv } from "./auth";
import type { SimContext } from "./context";
import { aesGcmEncrypt } from "./crypto";
import { rfc3339Cst } from "./time";

export async function certificatesBody(sim: SimContext): Promise<{ data: unknown[] }> {
  const data = [];
  for (const c of sim.certificates) {
    const nonce = sim.nonce12();
    data.push({
      serial_no: c.serial,
      effective_time: rfc3339Cst(c.notBefore),
      expire_time: rfc3339Cst(c.notAfter),
      encrypt_certificate: {
        algorithm: "AEAD_AES_256_GCM",
        nonce,
        associated_data: "certificate",
        ciphertext: await aesGcmEncrypt(sim.opts.apiv3Key, nonce, "certificate", c.certificatePem),
      },
    });
  }
  return { data };
}

export function registerCertificates(app: Hono<SimEnv>, sim: SimContext): void {
  app.get("/v3/certificates", async (c) => {
    if (sim.certificates.length === 0) {
      return answer(sim, c.req.raw, apiError(404, "RESOURCE_NOT_EXISTS", "无可用的平台证书"));
    }
    return answer(sim, c.req.raw, { status: 200, body: await certificatesBody(sim) });
  });
}

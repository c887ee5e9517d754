#!/usr/bin/env node
/**
 * The WeChat simulator as a local server for development (SPEC §7): api.weixin.qq.com and
 * api.mch.weixin.qq.com on one port, plus the control API under /__sim. Run with
 *   node --import tsx scripts/simulator.mjs
 * Options come from the JSON file in SIM_CONFIG (default .dev/simulator.json); SIM_PORT overrides its port:
 *   { appid, appsecret, mchid, apiv3Key, merchantSerial, merchantPublicKeyPem,
 *     platformCertificates: [{serial, privateKeyPem, certificatePem}],
 *     publicKey: {id, privateKeyPem, publicKeyPem} | null, port = 8788, timeScale = 1,
 *     signWith?, refundAutoSettleMs?, closeClosed?, acceptAnyOpenid?,
 *     push?: {url, token, encodingAesKey, originalId?} }  (message push to the Worker's /v1/wx/push)
 * Notifications are delivered with the global fetch on real timers (delays × timeScale).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import { systemClock } from "../src/lib/clock.ts";
import { createSimulator } from "../test/simulator/index.ts";

const path = resolve(process.env.SIM_CONFIG ?? ".dev/simulator.json");
let cfg;
try {
  cfg = JSON.parse(readFileSync(path, "utf8"));
} catch (e) {
  console.error(`simulator: cannot read its configuration ${path}: ${e.message}`);
  process.exit(1);
}
for (const k of ["appid", "appsecret", "mchid", "apiv3Key", "merchantSerial", "merchantPublicKeyPem"]) {
  if (typeof cfg[k] !== "string" || !cfg[k]) {
    console.error(`simulator: ${path}: "${k}" is required`);
    process.exit(1);
  }
}
const unescape = (pem) => (typeof pem === "string" ? pem.replace(/\\n/g, "\n") : pem);
// SIM_PORT (README: `npm run simulator`) wins over the file's port, e.g. beside a running npm run dev.
const port = Number(process.env.SIM_PORT || cfg.port || 8788);
const host = "127.0.0.1";

const sim = createSimulator({
  appid: cfg.appid,
  appsecret: cfg.appsecret,
  mchid: cfg.mchid,
  apiv3Key: cfg.apiv3Key,
  merchant: { serial: cfg.merchantSerial, publicKeyPem: unescape(cfg.merchantPublicKeyPem) },
  platform: {
    certificates: (cfg.platformCertificates ?? []).map((c) => ({
      serial: c.serial,
      privateKeyPem: unescape(c.privateKeyPem),
      certificatePem: unescape(c.certificatePem),
    })),
    publicKey: cfg.publicKey
      ? { id: cfg.publicKey.id, privateKeyPem: unescape(cfg.publicKey.privateKeyPem), publicKeyPem: unescape(cfg.publicKey.publicKeyPem) }
      : null,
  },
  ...(cfg.signWith ? { signWith: cfg.signWith } : {}),
  clock: systemClock,
  timeScale: cfg.timeScale ?? 1,
  refundAutoSettleMs: cfg.refundAutoSettleMs ?? null,
  ...(cfg.closeClosed ? { closeClosed: cfg.closeClosed } : {}),
  ...(cfg.acceptAnyOpenid !== undefined ? { acceptAnyOpenid: !!cfg.acceptAnyOpenid } : {}),
  ...(cfg.push ? { push: cfg.push } : {}),
  deliver: (req) => fetch(req),
});

const server = serve({ fetch: (req) => sim.fetch(req), hostname: host, port }, (info) => {
  console.log(`WeChat simulator listening on http://${host}:${info.port}`);
  console.log(`  WX_API_BASE=http://${host}:${info.port}  WXPAY_API_BASE=http://${host}:${info.port}`);
  console.log(`  control: http://${host}:${info.port}/__sim`);
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

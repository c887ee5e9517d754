/**
 * @module reconcile/certificates — keeps platform certificates fresh (WECHATPAY.md C.5: poll
 * more often than every 12 h). Only in certificate mode: no public key configured, or
 * certificates already stored (the certificate → public-key migration). A public-key-only
 * merchant has no certificates to fetch (WeChat answers 404), so nothing is called.
 */
import { platformCertificates } from "../db/schema";
import type { ItemCost } from "./budget";
import type { JobContext } from "./context";
import type { TaskStats } from "./report";

export interface CertificateTaskResult {
  mode: "certificate" | "public_key";
  refreshed: boolean;
  serials: string[];
}

/** The freshness reads, the download, and the batch that stores the certificates. */
export const CERTIFICATE_COST: ItemCost = { requests: 1, queries: 8 };

export async function refreshCertificatesIfStale(ctx: JobContext, stats: TaskStats): Promise<CertificateTaskResult> {
  const stored = await ctx.db.select({ serial: platformCertificates.serialNo }).from(platformCertificates).limit(1);
  if (ctx.config.publicKey !== null && stored.length === 0) return { mode: "public_key", refreshed: false, serials: [] };
  if (!ctx.budget.canSpend(CERTIFICATE_COST.requests, CERTIFICATE_COST.queries)) {
    ctx.budget.leave("certificates", 1);
    return { mode: "certificate", refreshed: false, serials: [] };
  }
  stats.scanned++;
  try {
    // The store re-downloads only when the last download is older than 12 h.
    const r = await ctx.pay.refreshCertificates({ force: false });
    if (r.refreshed) stats.changed++;
    return { mode: "certificate", ...r };
  } catch (err) {
    stats.failed++;
    ctx.fail("certificates", null, err);
    return { mode: "certificate", refreshed: false, serials: [] };
  }
}

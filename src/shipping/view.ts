/**
 * @module shipping/view — the shipping record as the API shows it (SPEC §9): the buyer sees
 * status, logistics type and tracking (never a contact); the admin sees everything, contacts
 * already masked. A paid order without a record is NOT_SHIPPED; an unpaid one has no shipping.
 */
import type { LogisticsType, ShippingStatus } from "../db/schema";
import type { Parcel } from "../wechat/server/shipping";
import type { ShippingRow } from "./repository";

export interface PublicShipping {
  status: ShippingStatus;
  logisticsType: LogisticsType | null;
  parcels: { trackingNo: string | null; expressCompany: string | null }[];
}

export interface AdminShipping extends Omit<PublicShipping, "parcels"> {
  parcels: Parcel[];
  isAllDelivered: boolean | null;
  uploadedAt: string | null;
  receivedAt: string | null;
  settledAt: string | null;
  attempts: number;
  uploads: number;
  lastError: string | null;
  nextAttemptAt: string | null;
}

const SHIPPABLE = new Set(["PAID", "PARTIALLY_REFUNDED"]);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function parcelsOf(json: string | null): Parcel[] {
  if (!json) return [];
  try {
    return JSON.parse(json) as Parcel[];
  } catch {
    return [];
  }
}

export function publicShipping(orderStatus: string, row: { status: ShippingStatus; logisticsType: LogisticsType | null; parcels: string | null } | null): PublicShipping | null {
  if (!row) return SHIPPABLE.has(orderStatus) ? { status: "NOT_SHIPPED", logisticsType: null, parcels: [] } : null;
  return {
    status: row.status,
    logisticsType: row.logisticsType,
    parcels: parcelsOf(row.parcels).map((p) => ({ trackingNo: p.trackingNo ?? null, expressCompany: p.expressCompany ?? null })),
  };
}

export function adminShipping(orderStatus: string, row: ShippingRow | null | undefined): AdminShipping | null {
  if (!row) {
    if (!SHIPPABLE.has(orderStatus)) return null;
    return { status: "NOT_SHIPPED", logisticsType: null, parcels: [], isAllDelivered: null, uploadedAt: null, receivedAt: null, settledAt: null, attempts: 0, uploads: 0, lastError: null, nextAttemptAt: null };
  }
  return {
    status: row.status,
    logisticsType: row.logisticsType,
    parcels: parcelsOf(row.parcels),
    isAllDelivered: row.isAllDelivered,
    uploadedAt: iso(row.uploadedAt),
    receivedAt: iso(row.receivedAt),
    settledAt: iso(row.settledAt),
    attempts: row.attempts,
    uploads: row.uploads,
    lastError: row.lastError,
    nextAttemptAt: iso(row.nextAttemptAt),
  };
}

/**
 * @module shipping/service — the shipping use cases (SPEC §9): an admin's shipment, the
 * fulfilment hook's shipment, one upload attempt, and the refresh from `get_order` (also what
 * the message push calls for `trade_manage_order_settlement`). The status always follows
 * shipping/state.ts; WeChat is reached only through the server-API client.
 */
import type { Config } from "../config";
import type { AppDeps, Db } from "../context";
import { AppError } from "../errors";
import { sha256Hex } from "../lib/encoding";
import type { Logger } from "../lib/log";
import { findOrderById, itemsForOrders } from "../orders/repository";
import { readPhoneNumber } from "../users/phone";
import { createServerApi, type ServerApi } from "../wechat/server/client";
import { TOKEN_ERRCODES, WxErrcodeError, WxServerError, WxUnknownOutcomeError } from "../wechat/server/errors";
import { maskPhone } from "../wechat/server/phone";
import { formatUploadTime, getShippingState, itemDescOf, type Parcel, uploadShippingInfo, type WechatShippingState } from "../wechat/server/shipping";
import { claimUpload, findShipping, patchShipping, type ShippingRow, writeHookShipment, writeShipmentRequest } from "./repository";
import { maskedContact, ShipmentRequestSchema, type ShipmentRequest } from "./request";
import { shippingRequired } from "./settings";
import { decideUpload, statusFromWechat, type UploadOutcome } from "./state";

export interface ShippingContext {
  db: Db;
  d1: D1Database;
  deps: AppDeps;
  config: Config;
  log: Logger;
  /** The server-API client (built on first use). */
  api?: ServerApi;
}

/** An upload attempt holds its record this long. */
export const UPLOAD_LEASE_MS = 60_000;
/** SHIPPED and RECEIVED records are checked with get_order this often (pushes are triggers, get_order the truth). */
export const REFRESH_INTERVAL_MS = 6 * 3600_000;
/** Retryable upload answers (N.3). */
const RETRYABLE = new Set([-1, 10060012, 10060019]);
/** Answers that mean "already shipped / nothing changed": settled by get_order. */
const SETTLED_BY_GET_ORDER = new Set([10060002, 10060023]);

const apiOf = (ctx: ShippingContext) => (ctx.api ??= createServerApi({ config: ctx.config, deps: ctx.deps, d1: ctx.d1 }));
const SHIPPABLE = new Set(["PAID", "PARTIALLY_REFUNDED"]);

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/** The parcels as they will be uploaded: item descriptions filled in, contacts masked, SF's contact rule applied. */
async function parcelsFor(ctx: ShippingContext, req: ShipmentRequest, order: { userId: string }, lines: { name: string; quantity: number }[]): Promise<Parcel[]> {
  const given = req.parcels ?? [{}];
  let buyerPhone: string | null | undefined;
  const out: Parcel[] = [];
  for (const [i, p] of given.entries()) {
    const contact = {
      consignorContact: p.contact?.consignorContact ? maskedContact(p.contact.consignorContact) : undefined,
      receiverContact: p.contact?.receiverContact ? maskedContact(p.contact.receiverContact) : undefined,
    };
    // SF Express needs a contact (N.1): the buyer's number, masked, when none is given.
    if (p.expressCompany === "SF" && !contact.consignorContact && !contact.receiverContact) {
      if (buyerPhone === undefined) buyerPhone = (await readPhoneNumber(ctx.db, ctx.config, order.userId))?.purePhoneNumber ?? null;
      if (!buyerPhone) {
        throw new AppError("invalid_request", `parcels[${i}].contact: SF Express needs a phone number (masked, last 4 digits visible) and the buyer has not shared one`);
      }
      contact.receiverContact = maskPhone(buyerPhone);
    }
    out.push({
      ...(p.trackingNo ? { trackingNo: p.trackingNo } : {}),
      ...(p.expressCompany ? { expressCompany: p.expressCompany } : {}),
      itemDesc: p.itemDesc ?? itemDescOf(lines),
      ...(contact.consignorContact || contact.receiverContact ? { contact } : {}),
    });
  }
  return out;
}

/**
 * `POST /admin/orders/:id/shipping`: records the shipment and makes the first upload attempt.
 * The same Idempotency-Key and body again → the same record; a new key is a new shipment (a
 * re-ship once WeChat accepted one), refused once the re-ship is used or receipt confirmed.
 */
export async function requestShipment(ctx: ShippingContext, orderId: string, req: ShipmentRequest, idempotencyKey: string): Promise<ShippingRow> {
  const order = await findOrderById(ctx.db, orderId);
  if (!order) throw new AppError("not_found", "order not found");
  const hash = await sha256Hex(JSON.stringify(req));
  const existing = await findShipping(ctx.d1, orderId);
  if (existing && existing.idempotencyKey === idempotencyKey) {
    if (existing.requestHash !== hash) throw new AppError("idempotency_conflict", "this Idempotency-Key was used with another shipment");
    return existing;
  }
  if (order.status === "REFUNDED") throw new AppError("not_shippable", "the order was refunded in full; nothing to ship");
  if (!SHIPPABLE.has(order.status) || !order.transactionId) throw new AppError("not_shippable", `the order is ${order.status}, not paid`);
  if (existing) {
    if (existing.status === "RECEIVED" || existing.status === "SETTLED") throw new AppError("not_shippable", "the buyer already confirmed receipt");
    if (existing.uploads >= 2) throw new AppError("not_shippable", "this payment's one re-ship is already used (WeChat allows one change)");
    if (existing.leaseUntil !== null && existing.leaseUntil > ctx.deps.clock.now()) {
      throw new AppError("not_shippable", "an upload for this order is in progress; retry in a minute");
    }
  }
  const items = (await itemsForOrders(ctx.db, [orderId])).get(orderId) ?? [];
  const parcels = await parcelsFor(ctx, req, order, items);
  const row = await writeShipmentRequest(ctx.d1, {
    orderId,
    logisticsType: req.logisticsType,
    parcelsJson: JSON.stringify(parcels),
    isAllDelivered: parcels.length > 1 ? (req.isAllDelivered ?? true) : null,
    now: ctx.deps.clock.now(),
    idempotencyKey,
    requestHash: hash,
    readUpdatedAt: existing?.updatedAt ?? null,
  });
  if (!row) throw new AppError("idempotency_conflict", "the order's shipping changed at the same time; read it and retry");
  ctx.log.info("shipment requested", { orderId, logisticsType: req.logisticsType, parcels: parcels.length, reship: (existing?.uploads ?? 0) > 0 });
  await runUpload(ctx, orderId);
  return (await findShipping(ctx.d1, orderId)) ?? row;
}

/**
 * What the fulfilment hook returned (`{ shipping }`): recorded once per order (a record that
 * exists — an admin's, or this hook's on an earlier run — wins) and uploaded (`upload`), or left
 * due for the cron's shipping task.
 */
export async function shipFromHook(
  ctx: ShippingContext,
  orderId: string,
  shipping: unknown,
  lines: { name: string; quantity: number }[],
  userId: string,
  upload = true,
): Promise<void> {
  const parsed = ShipmentRequestSchema.safeParse(shipping);
  if (!parsed.success) {
    ctx.log.error("fulfilment hook returned an invalid shipment; ship it from the admin API", { orderId, issue: parsed.error.issues[0]?.message });
    return;
  }
  const parcels = await parcelsFor(ctx, parsed.data, { userId }, lines);
  const row = await writeHookShipment(ctx.d1, {
    orderId,
    logisticsType: parsed.data.logisticsType,
    parcelsJson: JSON.stringify(parcels),
    isAllDelivered: parcels.length > 1 ? (parsed.data.isAllDelivered ?? true) : null,
    now: ctx.deps.clock.now(),
  });
  if (row && upload) await runUpload(ctx, orderId);
}

// ---------------------------------------------------------------------------------------------
// One upload attempt
// ---------------------------------------------------------------------------------------------

function outcomeOf(err: unknown): UploadOutcome {
  if (err instanceof WxUnknownOutcomeError) return { kind: "unknown", code: err.code };
  if (err instanceof WxErrcodeError) {
    if (err.errcode === 10060001) return { kind: "not_visible" };
    // A token still rejected after the client's one refresh is transient here: try again later.
    if (RETRYABLE.has(err.errcode) || TOKEN_ERRCODES.has(err.errcode)) return { kind: "retryable", code: err.code };
    return { kind: "terminal", code: `${err.code}: ${err.errmsg}`.slice(0, 300) };
  }
  throw err;
}

/**
 * Claims the order's due upload and makes one attempt: get_order first when the previous
 * attempt's outcome is unknown (or WeChat says it is already shipped), then the upload, then the
 * outcome written under the lease. Returns the record's status afterwards, or null if not due.
 */
export async function runUpload(ctx: ShippingContext, orderId: string): Promise<string | null> {
  const now = ctx.deps.clock.now();
  const lease = now + UPLOAD_LEASE_MS;
  const claimed = await claimUpload(ctx.d1, orderId, now, lease);
  if (!claimed) return null;
  const { row, order } = claimed;
  const guard = { leaseUntil: lease };
  const log = ctx.log.with({ orderId, attempt: row.attempts });
  if (!order?.transactionId || !SHIPPABLE.has(order.status)) {
    await patchShipping(ctx.d1, orderId, guard, { status: "FAILED", lastError: `order is ${order?.status ?? "missing"}`, nextAttemptAt: null, releaseLease: true }, now);
    return "FAILED";
  }
  if (!(await shippingRequired(ctx))) {
    // Shipping management is off for this account: recorded as shipped, nothing uploaded.
    await patchShipping(ctx.d1, orderId, guard, { status: "SHIPPED", lastError: null, nextAttemptAt: null, releaseLease: true }, now);
    return "SHIPPED";
  }
  const api = apiOf(ctx);
  try {
    if (row.outcomeUnknown) {
      const w = await getShippingState(api, order.transactionId);
      const settled = await settleFromWechat(ctx, row, w, guard);
      if (settled) return settled;
    }
    const uploadMs = Math.max(ctx.deps.clock.now(), row.uploadTime ? Date.parse(row.uploadTime) + 1 : 0);
    const uploadTime = formatUploadTime(uploadMs);
    await uploadShippingInfo(api, {
      transactionId: order.transactionId,
      payerOpenid: order.openid,
      logisticsType: row.logisticsType ?? "express",
      parcels: JSON.parse(row.parcels ?? "[]") as Parcel[],
      isAllDelivered: row.isAllDelivered ?? true,
      uploadTime,
    });
    const at = ctx.deps.clock.now();
    await patchShipping(
      ctx.d1,
      orderId,
      guard,
      { status: "SHIPPED", uploads: row.uploads + 1, uploadTime, uploadedAt: at, lastError: null, outcomeUnknown: false, nextAttemptAt: at + REFRESH_INTERVAL_MS, releaseLease: true },
      at,
    );
    log.info("shipping uploaded", { logisticsType: row.logisticsType });
    return "SHIPPED";
  } catch (err) {
    if (err instanceof WxErrcodeError && SETTLED_BY_GET_ORDER.has(err.errcode)) {
      // "Already shipped" / "nothing changed": WeChat's own record decides.
      try {
        const settled = await settleFromWechat(ctx, row, await getShippingState(apiOf(ctx), order.transactionId), guard, true);
        if (settled) return settled;
      } catch (inner) {
        if (!(inner instanceof WxServerError)) throw inner;
        err = new WxUnknownOutcomeError(inner.api, "network");
      }
    }
    const outcome = err instanceof WxErrcodeError && SETTLED_BY_GET_ORDER.has(err.errcode) ? ({ kind: "unknown", code: err.code } as const) : outcomeOf(err);
    const at = ctx.deps.clock.now();
    const d = decideUpload(outcome, { attempts: row.attempts, msSincePaid: at - (order.paidAt ?? at) });
    await patchShipping(
      ctx.d1,
      orderId,
      guard,
      {
        status: d.status,
        lastError: d.lastError,
        outcomeUnknown: d.outcomeUnknown || row.outcomeUnknown && outcome.kind !== "terminal",
        nextAttemptAt: d.retryInMs === null ? null : at + d.retryInMs,
        releaseLease: true,
      },
      at,
      d.flag ? { kind: d.flag, detail: { lastError: d.lastError, attempts: row.attempts } } : null,
    );
    (d.status === "FAILED" ? log.error : log.warn)("shipping upload failed", { outcome: outcome.kind, code: d.lastError, retryInMs: d.retryInMs });
    return d.status;
  }
}

/**
 * Applies get_order's answer to a record being uploaded; the new status, or null when WeChat has
 * not shipped it. `alreadyShipped`: WeChat just said so (10060002/10060023), so a shipped
 * payment counts as this shipment even when its re-ship counter did not move.
 */
async function settleFromWechat(
  ctx: ShippingContext,
  row: ShippingRow,
  w: WechatShippingState,
  guard: { leaseUntil: number },
  alreadyShipped = false,
): Promise<string | null> {
  const target = statusFromWechat("UPLOADING", w, alreadyShipped ? -1 : row.uploads);
  if (target === null) return null;
  const at = ctx.deps.clock.now();
  await patchShipping(ctx.d1, row.orderId, guard, { ...wechatPatch(target, w, row, at), outcomeUnknown: false, releaseLease: true }, at);
  return target;
}

function wechatPatch(target: string, w: WechatShippingState, row: ShippingRow, at: number) {
  return {
    status: target as ShippingRow["status"],
    uploads: Math.max(row.uploads, w.finishShippingCount),
    lastCheckedAt: at,
    lastError: target === "FAILED" ? "refunded at WeChat" : null,
    uploadedAt: row.uploadedAt ?? (w.finishShipping ? at : null),
    receivedAt: row.receivedAt ?? (target === "RECEIVED" || target === "SETTLED" ? at : null),
    settledAt: row.settledAt ?? (target === "SETTLED" ? at : null),
    nextAttemptAt: target === "SHIPPED" || target === "RECEIVED" ? at + REFRESH_INTERVAL_MS : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Refresh from get_order (cron, and the message push's trade_manage_order_settlement)
// ---------------------------------------------------------------------------------------------

/**
 * Asks get_order about one payment and moves its record forward (SHIPPED → RECEIVED → SETTLED)
 * from `order_state` — never from a push's `confirm_receive_method`, reported swapped (O.9).
 * A payment shipped outside this service (the MP console) gets a record too. Returns the status
 * afterwards (NOT_SHIPPED: WeChat has no shipment either), or null for a transaction that is not ours.
 */
export async function refreshShippingFromWechat(ctx: ShippingContext, p: { transactionId: string }): Promise<string | null> {
  const order = await ctx.d1
    .prepare('SELECT id, status FROM orders WHERE transaction_id = ?')
    .bind(p.transactionId)
    .first<{ id: string; status: string }>();
  if (!order) return null;
  const w = await getShippingState(apiOf(ctx), p.transactionId);
  const at = ctx.deps.clock.now();
  let row = await findShipping(ctx.d1, order.id);
  if (!row) {
    if (w.orderState === 1 || w.orderState === 5) return "NOT_SHIPPED";
    // Shipped by hand in the MP console: start a record to follow it.
    await ctx.d1
      .prepare("INSERT INTO shippings (order_id, status, source, created_at, updated_at) VALUES (?, 'NOT_SHIPPED', 'wechat', ?, ?) ON CONFLICT (order_id) DO NOTHING")
      .bind(order.id, at, at)
      .run();
    row = await findShipping(ctx.d1, order.id);
    if (!row) return null;
  }
  const target = statusFromWechat(row.status, w, row.uploads);
  if (target === null || row.status === "UPLOADING") {
    // Nothing new (an upload in progress settles itself through its own get_order).
    await patchShipping(ctx.d1, row.orderId, { status: row.status }, { lastCheckedAt: at, ...(row.status === "SHIPPED" || row.status === "RECEIVED" ? { nextAttemptAt: at + REFRESH_INTERVAL_MS } : {}) }, at);
    return row.status;
  }
  const won = await patchShipping(ctx.d1, row.orderId, { status: row.status }, wechatPatch(target, w, row, at), at);
  if (won) ctx.log.info("shipping state from WeChat", { orderId: row.orderId, from: row.status, to: target, orderState: w.orderState });
  return won ? target : (await findShipping(ctx.d1, row.orderId))?.status ?? null;
}

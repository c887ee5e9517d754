/**
 * @module db/schema — every D1 table, as drizzle sees it.
 *
 * Conventions: times are integer milliseconds since the epoch (UTC); money is integer fen;
 * ids we mint are opaque text. The SQL in `migrations/` is generated from this file by
 * drizzle-kit (`npx drizzle-kit generate`) and is the only thing applied to a database.
 */
import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";

export const ORDER_STATUSES = [
  "CREATED",
  "PAYING",
  "PAID",
  "PARTIALLY_REFUNDED",
  "REFUNDED",
  "CLOSED",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const REFUND_STATUSES = ["PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL"] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

export const CHANGE_SOURCES = ["api", "notify", "query", "cron", "admin"] as const;
export type ChangeSource = (typeof CHANGE_SOURCES)[number];

/** Mini-program users, one row per openid. `session_key` only ever stored encrypted. */
export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  openid: text("openid").notNull().unique(),
  unionid: text("unionid"),
  /** base64(iv ‖ AES-GCM ciphertext) of WeChat's session_key, key derived from SESSION_SECRET. */
  sessionKeyEnc: text("session_key_enc").notNull(),
  /** base64(iv ‖ AES-GCM ciphertext) of the phone number (SPEC §9), same key as session_key; null = never given. */
  phoneEnc: text("phone_enc"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  // -- SPEC §11 (migration 0008) --
  /**
   * Unix SECONDS (like a token's `iat`): session tokens issued before this are refused. Set by
   * `POST /admin/users/:id/revoke-sessions` and by a login WeChat answers 40226; null = never.
   */
  sessionsValidAfter: integer("sessions_valid_after"),
});

/** Fixed-window counters for rate limits (key = "login:ip:1.2.3.4", window = minute index). */
export const rateLimits = sqliteTable(
  "rate_limits",
  {
    key: text("key").notNull(),
    window: integer("window").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.key, t.window] }),
    // -- SPEC §11 (migration 0008): the cron deletes old windows in bounded batches --
    index("rate_limits_window").on(t.window),
  ],
);

/** The catalogue: the only source of prices. */
export const products = sqliteTable(
  "products",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    price: integer("price").notNull(),
    currency: text("currency").notNull().default("CNY"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    sort: integer("sort").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    /** Last edit through the admin API (null: never edited). */
    updatedAt: integer("updated_at"),
  },
  (t) => [check("products_price_positive", sql`${t.price} > 0`)],
);

export const orders = sqliteTable(
  "orders",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    /** The payer sent to WeChat, from the session at creation time (never from the client). */
    openid: text("openid").notNull(),
    outTradeNo: text("out_trade_no").notNull().unique(),
    status: text("status", { enum: ORDER_STATUSES }).notNull(),
    amount: integer("amount").notNull(),
    currency: text("currency").notNull().default("CNY"),
    description: text("description").notNull(),
    /** Exactly the `time_expire` string sent to WeChat (+08:00); every repeated prepay reuses it. */
    timeExpire: text("time_expire").notNull(),
    expiresAt: integer("expires_at").notNull(),
    prepayId: text("prepay_id"),
    /** When the latest prepay call answered (a repeat included). */
    prepayAt: integer("prepay_at"),
    /** While set and in the future, one request is calling prepay for this order; others wait. */
    prepayLockUntil: integer("prepay_lock_until"),
    transactionId: text("transaction_id").unique(),
    paidAt: integer("paid_at"),
    refundedAmount: integer("refunded_amount").notNull().default(0),
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
    /** Last time WeChat was queried for this order (sync throttle, cron back-off). */
    lastQueryAt: integer("last_query_at"),
    queryCount: integer("query_count").notNull().default(0),
    /** When the reconciler should look at this order next (null: nothing to do). */
    nextCheckAt: integer("next_check_at"),
    /**
     * Random id written by the conditional UPDATE that won the latest transition; rows that must
     * exist only if *this* request won (audit, outbox, flags) are inserted in the same batch with
     * `WHERE EXISTS (… last_transition_id = ?)`.
     */
    lastTransitionId: text("last_transition_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    // 0004_prepay_lifetime (SPEC §8)
    /**
     * When WeChat first returned the current `prepay_id` (set only when the id changes): its
     * 2-hour life counts from here; a repeat prepay that answers the same id does not renew it.
     * Null on orders from before 0004 (then `prepay_at` stands in).
     */
    prepayIssuedAt: integer("prepay_issued_at"),
    /** Exactly the `notify_url` the first prepay sent; every repeat sends it again (null before 0004). */
    notifyUrl: text("notify_url"),
  },
  (t) => [
    uniqueIndex("orders_user_idempotency").on(t.userId, t.idempotencyKey),
    index("orders_user_created").on(t.userId, t.createdAt, t.id),
    index("orders_status_created").on(t.status, t.createdAt, t.id),
    index("orders_created").on(t.createdAt, t.id),
    index("orders_next_check").on(t.nextCheckAt),
    // -- SPEC §11 (migration 0008): unpaid orders counted per user on every create --
    index("orders_user_status").on(t.userId, t.status),
    // The console: search by openid, and the paid-money aggregates (SPEC §10).
    index("orders_openid_created").on(t.openid, t.createdAt, t.id),
    index("orders_paid_at").on(t.paidAt),
    check("orders_amount_positive", sql`${t.amount} > 0`),
    check("orders_refunded_range", sql`${t.refundedAmount} >= 0 AND ${t.refundedAmount} <= ${t.amount}`),
  ],
);

export const orderItems = sqliteTable(
  "order_items",
  {
    orderId: text("order_id")
      .notNull()
      .references(() => orders.id),
    line: integer("line").notNull(),
    productId: text("product_id").notNull(),
    name: text("name").notNull(),
    quantity: integer("quantity").notNull(),
    unitPrice: integer("unit_price").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.line] })],
);

/** Audit trail: one row per state change, written in the same batch as the change. */
export const orderEvents = sqliteTable(
  "order_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    orderId: text("order_id").notNull(),
    fromStatus: text("from_status").notNull(),
    toStatus: text("to_status").notNull(),
    source: text("source", { enum: CHANGE_SOURCES }).notNull(),
    detail: text("detail"),
    at: integer("at").notNull(),
  },
  (t) => [index("order_events_order").on(t.orderId, t.id)],
);

/** Every verified notification, keyed by WeChat's notification id (dedupe key). */
export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    eventType: text("event_type").notNull(),
    orderId: text("order_id"),
    outTradeNo: text("out_trade_no"),
    transactionId: text("transaction_id"),
    outRefundNo: text("out_refund_no"),
    /** applied | duplicate | flagged | recorded */
    outcome: text("outcome").notNull(),
    serial: text("serial"),
    /** The decrypted resource (business record; never logged). */
    resource: text("resource"),
    receivedAt: integer("received_at").notNull(),
  },
  (t) => [
    index("notifications_order").on(t.orderId, t.receivedAt),
    index("notifications_out_trade_no").on(t.outTradeNo),
  ],
);

/** Things a human must look at: money that did not fit. */
export const flags = sqliteTable(
  "flags",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    orderId: text("order_id"),
    notificationId: text("notification_id"),
    kind: text("kind").notNull(),
    detail: text("detail"),
    at: integer("at").notNull(),
    resolvedAt: integer("resolved_at"),
    /** What the operator wrote when resolving it (console / POST /admin/flags/:id/resolve). */
    resolutionNote: text("resolution_note"),
    /** Set by writers that must not flag the same thing twice (the bill check: date, kind, numbers). */
    dedupeKey: text("dedupe_key"),
  },
  (t) => [
    index("flags_order").on(t.orderId, t.at),
    index("flags_at").on(t.at),
    index("flags_resolved_at").on(t.resolvedAt, t.at),
    uniqueIndex("flags_dedupe").on(t.dedupeKey),
  ],
);

export const refunds = sqliteTable(
  "refunds",
  {
    id: text("id").primaryKey(),
    orderId: text("order_id")
      .notNull()
      .references(() => orders.id),
    outRefundNo: text("out_refund_no").notNull().unique(),
    amount: integer("amount").notNull(),
    status: text("status", { enum: REFUND_STATUSES }).notNull(),
    reason: text("reason"),
    refundId: text("refund_id"),
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
    /** Set once WeChat has accepted the refund request (or answered definitively). */
    submittedAt: integer("submitted_at"),
    /**
     * When an attempt to submit it first had an unknown outcome (timeout, 5xx, 429, unverifiable
     * answer), or a later attempt was needed: from then on a 4xx never closes it, WeChat's query
     * decides (SPEC §8, migration 0002).
     */
    outcomeUnknownAt: integer("outcome_unknown_at"),
    lastQueryAt: integer("last_query_at"),
    nextCheckAt: integer("next_check_at"),
    lastTransitionId: text("last_transition_id"),
    detail: text("detail"),
    createdAt: integer("created_at").notNull(),
    settledAt: integer("settled_at"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("refunds_order_idempotency").on(t.orderId, t.idempotencyKey),
    index("refunds_order").on(t.orderId, t.createdAt),
    index("refunds_status_check").on(t.status, t.nextCheckAt),
    index("refunds_status_settled").on(t.status, t.settledAt),
    check("refunds_amount_positive", sql`${t.amount} > 0`),
  ],
);

/** Outbox for the fulfilment hook: one row per paid order, written with the PAID transition. */
export const fulfilments = sqliteTable(
  "fulfilments",
  {
    orderId: text("order_id").primaryKey(),
    /** PENDING | RUNNING | DONE */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    leaseUntil: integer("lease_until"),
    createdAt: integer("created_at").notNull(),
    doneAt: integer("done_at"),
  },
  (t) => [index("fulfilments_due").on(t.status, t.nextAttemptAt)],
);

/** WeChat Pay platform certificates (certificate mode), one row per serial. */
export const platformCertificates = sqliteTable("platform_certificates", {
  serialNo: text("serial_no").primaryKey(),
  /** base64 DER SubjectPublicKeyInfo, imported with importKey("spki"). */
  publicKeySpki: text("public_key_spki").notNull(),
  certificatePem: text("certificate_pem").notNull(),
  effectiveAt: integer("effective_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  fetchedAt: integer("fetched_at").notNull(),
});

/** Small operational state: last certificate refresh, last bill date checked, … */
export const kv = sqliteTable("kv", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** One row per reconciliation run, with its report. */
export const reconcileRuns = sqliteTable(
  "reconcile_runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    trigger: text("trigger").notNull(),
    startedAt: integer("started_at").notNull(),
    finishedAt: integer("finished_at"),
    report: text("report"),
  },
  (t) => [index("reconcile_runs_started").on(t.startedAt)],
);

/** Differences found by the daily trade-bill check. */
export const billDiffs = sqliteTable(
  "bill_diffs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    billDate: text("bill_date").notNull(),
    /** missing_local | missing_remote | amount_mismatch | status_mismatch */
    kind: text("kind").notNull(),
    outTradeNo: text("out_trade_no"),
    outRefundNo: text("out_refund_no"),
    detail: text("detail"),
    createdAt: integer("created_at").notNull(),
    /** kind|out_trade_no|out_refund_no: one row per difference and date (migration 0003). */
    diffKey: text("diff_key"),
  },
  (t) => [index("bill_diffs_date").on(t.billDate), uniqueIndex("bill_diffs_key").on(t.billDate, t.diffKey)],
);

// ---- Message push (SPEC §9, migration 0006) -------------------------------------------------

export const PUSH_EVENT_STATUSES = ["stored", "applied", "pending", "failed"] as const;
export type PushEventStatus = (typeof PUSH_EVENT_STATUSES)[number];

/**
 * Every verified, decrypted WeChat message push, stored once: `dedupe_key` is
 * `event:transaction_id:CreateTime` (`event:from:FromUserName:CreateTime` without a transaction,
 * `msg:MsgId` for messages), so WeChat's retries of one push land on the same row.
 * status: stored (nothing to do) · applied (its flag written / its refresh done) · pending (work
 * after the answer still to do) · failed (that work failed; `last_error`).
 */
export const wxPushEvents = sqliteTable(
  "wx_push_events",
  {
    id: text("id").primaryKey(),
    dedupeKey: text("dedupe_key").notNull().unique(),
    /** `Event` for MsgType=event, else the MsgType. */
    event: text("event").notNull(),
    transactionId: text("transaction_id"),
    /** Our out_trade_no, as WeChat's trade events name it. */
    merchantTradeNo: text("merchant_trade_no"),
    orderId: text("order_id"),
    /** The push's CreateTime, unix seconds. */
    createTime: integer("create_time").notNull(),
    /** json | xml */
    format: text("format").notNull(),
    /** The decrypted message's fields as JSON (business record; never logged). */
    body: text("body").notNull(),
    status: text("status", { enum: PUSH_EVENT_STATUSES }).notNull(),
    lastError: text("last_error"),
    receivedAt: integer("received_at").notNull(),
    processedAt: integer("processed_at"),
  },
  (t) => [index("wx_push_events_order").on(t.orderId, t.receivedAt), index("wx_push_events_status").on(t.status, t.receivedAt)],
);

// ---------------------------------------------------------------------------------------------
// Shipping-info management (SPEC §9, WECHATPAY.md N)
// ---------------------------------------------------------------------------------------------

export const SHIPPING_STATUSES = ["NOT_SHIPPED", "UPLOADING", "SHIPPED", "RECEIVED", "SETTLED", "FAILED"] as const;
export type ShippingStatus = (typeof SHIPPING_STATUSES)[number];

export const LOGISTICS_TYPES = ["express", "same_city", "virtual", "pickup"] as const;
export type LogisticsType = (typeof LOGISTICS_TYPES)[number];

/**
 * One shipping record per paid order (a paid order without a row is NOT_SHIPPED). The upload
 * runs under a lease (`lease_until`) so one runner at a time talks to WeChat for an order.
 */
export const shippings = sqliteTable(
  "shippings",
  {
    orderId: text("order_id").primaryKey(),
    status: text("status", { enum: SHIPPING_STATUSES }).notNull(),
    logisticsType: text("logistics_type", { enum: LOGISTICS_TYPES }),
    /** JSON `[{trackingNo, expressCompany, itemDesc, contact}]`: exactly what is (or was) uploaded. */
    parcels: text("parcels"),
    isAllDelivered: integer("is_all_delivered", { mode: "boolean" }),
    /** admin | hook */
    source: text("source"),
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
    /** Upload attempts for the current shipment. */
    attempts: integer("attempts").notNull().default(0),
    /** Uploads WeChat accepted; a payment has one re-ship, so at most 2 (N.2). */
    uploads: integer("uploads").notNull().default(0),
    lastError: text("last_error"),
    /** The last attempt's outcome is unknown (timeout, 5xx): ask get_order before uploading again. */
    outcomeUnknown: integer("outcome_unknown", { mode: "boolean" }).notNull().default(false),
    /** The `upload_time` sent (RFC 3339 +08:00); a later upload must carry a later one (N.1). */
    uploadTime: text("upload_time"),
    /** When the next upload attempt (UPLOADING) or get_order refresh (SHIPPED/RECEIVED) is due. */
    nextAttemptAt: integer("next_attempt_at"),
    leaseUntil: integer("lease_until"),
    uploadedAt: integer("uploaded_at"),
    receivedAt: integer("received_at"),
    settledAt: integer("settled_at"),
    lastCheckedAt: integer("last_checked_at"),
    overdueFlaggedAt: integer("overdue_flagged_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("shippings_status_next").on(t.status, t.nextAttemptAt)],
);
/** The reconciliation lease (one row, id 1): who runs now and until when at the latest (SPEC §8). */
export const reconcileLease = sqliteTable("reconcile_lease", {
  id: integer("id").primaryKey(),
  holder: text("holder").notNull(),
  trigger: text("trigger").notNull(),
  startedAt: integer("started_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

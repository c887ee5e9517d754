/**
 * @module routes/admin — the admin API (SPEC §3), behind `Authorization: Bearer <ADMIN_TOKEN>`:
 * order list and detail, refunds, the reconciliation job on demand, and the daily bill check's
 * differences (`GET /admin/bills/{date}`), and ending a user's sessions. Thin: validate, call the module, shape the answer.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { adminAuth } from "../admin/auth";
import { revokeSessions } from "../auth/session";
import { billDiffsForDate, listOrdersForAdmin, orderDetailForAdmin } from "../admin/queries";
import type { AppEnv } from "../context";
import { ORDER_STATUSES } from "../db/schema";
import { AppError } from "../errors";
import { billCheckOf } from "../reconcile/billcheck";
import { runReconciliation } from "../reconcile/job";
import { shanghaiDayBounds } from "../reconcile/schedule";
import { getRefund } from "../refunds/repository";
import { RefundSchema, serializeRefund } from "../refunds/serialize";
import { createRefund } from "../refunds/service";
import type { RefundServiceCtx } from "../refunds/submit";
import { createWechatPay } from "../wechat/pay";
import { OrderSchema } from "./orders";
import { AdminShippingSchema } from "./shipping";
import { ADMIN_AUTH_ERRORS, ADMIN_CHANGE_ERRORS, adminSecurity, BODY_ERRORS, errorResponses, requiredIdempotencyHeaders } from "./schemas";

const json = <T>(schema: T) => ({ "application/json": { schema } });
const tags = ["admin"];
export const guard = { security: adminSecurity, middleware: [adminAuth] };
const AdminOrderSchema = OrderSchema.extend({ openid: z.string().openapi({ description: "the payer" }) }).openapi("AdminOrder");

export const FlagSchema = z
  .object({
    id: z.number().int(),
    orderId: z.string().nullable(),
    kind: z.string(),
    detail: z.unknown().openapi({ type: "object", description: "JSON context (free form)" }),
    at: z.string(),
    resolvedAt: z.string().nullable(),
    note: z.string().nullable().openapi({ description: "what the operator wrote when resolving it" }),
  })
  .openapi("Flag");

const IdParams = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });
/** A calendar date (YYYY-MM-DD): 2026-13-45 has the shape but is no day a bill exists for. */
const CalendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "expected YYYY-MM-DD")
  .refine((d) => shanghaiDayBounds(d) !== null, "not a calendar date");

export const OrderFilterQuery = z.object({
  status: z.enum(ORDER_STATUSES).optional().openapi({ param: { name: "status", in: "query" } }),
  q: z.string().trim().max(128).optional().openapi({ param: { name: "q", in: "query" }, description: "exactly an order id, out_trade_no, transaction_id or openid" }),
  from: CalendarDate.optional().openapi({ param: { name: "from", in: "query" }, description: "created on or after this Asia/Shanghai date (YYYY-MM-DD)" }),
  to: CalendarDate.optional().openapi({ param: { name: "to", in: "query" }, description: "created on or before this Asia/Shanghai date (YYYY-MM-DD)" }),
});

const ListQuery = OrderFilterQuery.extend({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ param: { name: "limit", in: "query" } }),
  cursor: z.string().min(1).max(200).optional().openapi({ param: { name: "cursor", in: "query" } }),
});

const Anything = z.unknown().openapi({ type: "object", description: "JSON context (free form)" });

const OrderDetail = z
  .object({
    order: AdminOrderSchema,
    history: z.array(z.object({ from: z.string(), to: z.string(), source: z.string(), at: z.string(), detail: Anything })),
    refunds: z.array(RefundSchema),
    notifications: z.array(z.object({ id: z.string(), eventType: z.string(), receivedAt: z.string(), outcome: z.string() })),
    flags: z.array(FlagSchema),
    fulfilment: z
      .object({ status: z.string(), attempts: z.number().int(), lastError: z.string().nullable(), nextAttemptAt: z.string(), doneAt: z.string().nullable() })
      .nullable(),
    shipping: AdminShippingSchema.nullable().openapi({ description: "null while the order is not paid" }),
    buyerPhone: z.string().nullable().openapi({ description: "the buyer's phone number, masked (138****1234), if shared" }),
  })
  .openapi("AdminOrderDetail");

export const RefundRequest = z
  .object({
    amount: z.number().int().positive().openapi({ description: "integer fen, > 0", example: 100 }),
    reason: z.string().max(80).optional().openapi({ description: "shown to the user; at most 80 bytes (UTF-8)" }),
  })
  .strict()
  .openapi("RefundRequest");

const IdempotencyHeaders = requiredIdempotencyHeaders("refund");

const ReportSchema = z
  .object({
    runId: z.number().int(),
    trigger: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    scanned: z.number().int(),
    changed: z.number().int(),
    failed: z.number().int(),
    budget: z
      .object({
        plan: z.enum(["free", "paid"]),
        wallMs: z.number().int(),
        limits: z.object({ subrequests: z.number().int(), queries: z.number().int() }),
        spent: z.object({ subrequests: z.number().int(), queries: z.number().int() }),
      })
      .openapi({ description: "WORKERS_PLAN's per-run limits and what the run used (counted as sent; the closing report write and lease release come after)" }),
    stoppedEarly: z
      .enum(["time", "subrequests", "queries"])
      .nullable()
      .openapi({ description: "why the run stopped taking new work before it ran out of work (null: it did not); the next run goes on" }),
    left: z
      .record(z.string(), z.union([z.number().int(), z.literal("not_started")]))
      .openapi({ description: "per task, the items it had in hand and left for the next run, or not_started" }),
  })
  .passthrough()
  .openapi("ReconcileReport", { description: "plus tasks, durationsMs, certificates, bill (status, rows, foreign, diffs, written/total while partial) and errors" });

const listRoute = createRoute({
  method: "get",
  path: "/admin/orders",
  tags,
  summary: "Orders, newest first, optionally by status",
  ...guard,
  request: { query: ListQuery },
  responses: {
    200: { description: "a page of orders", content: json(z.object({ orders: z.array(AdminOrderSchema), nextCursor: z.string().nullable() })) },
    ...errorResponses("invalid_request", ...ADMIN_AUTH_ERRORS),
  },
});

const detailRoute = createRoute({
  method: "get",
  path: "/admin/orders/{id}",
  tags,
  summary: "One order with its state history, refunds, notifications, flags and fulfilment",
  ...guard,
  request: { params: IdParams },
  responses: { 200: { description: "the order and what happened to it", content: json(OrderDetail) }, ...errorResponses("invalid_request", ...ADMIN_AUTH_ERRORS, "not_found") },
});

const refundRoute = createRoute({
  method: "post",
  path: "/admin/orders/{id}/refunds",
  tags,
  summary: "Refund (part of) a paid order; the total never exceeds the amount paid",
  description:
    "`Idempotency-Key` is required: send a fresh one per refund and the same one when retrying, so a refund is never paid twice. " +
    "A refusal by WeChat closes the refund (502) only on its first attempt; after an attempt whose outcome is unknown, WeChat is asked and its answer decides.",
  ...guard,
  request: { params: IdParams, headers: IdempotencyHeaders, body: { required: true, content: json(RefundRequest) } },
  responses: {
    201: { description: "refund accepted (PROCESSING, or already settled)", content: json(z.object({ refund: RefundSchema })) },
    200: { description: "repeat with the same Idempotency-Key and body: the same refund", content: json(z.object({ refund: RefundSchema })) },
    ...errorResponses(...BODY_ERRORS, ...ADMIN_CHANGE_ERRORS, "not_found", "refund_not_allowed", "idempotency_conflict", "payment_provider_error"),
  },
});

const getRefundRoute = createRoute({
  method: "get",
  path: "/admin/refunds/{id}",
  tags,
  summary: "One refund",
  ...guard,
  request: { params: IdParams },
  responses: { 200: { description: "the refund", content: json(z.object({ refund: RefundSchema })) }, ...errorResponses("invalid_request", ...ADMIN_AUTH_ERRORS, "not_found") },
});

const reconcileRoute = createRoute({
  method: "post",
  path: "/admin/reconcile",
  tags,
  summary: "Run the reconciliation job now (the cron runs it every minute)",
  description:
    "One run at a time: while another run (cron or admin) holds the lease, 409 reconcile_running names its start time (Retry-After: seconds until its lease expires at the latest). A run stays within WORKERS_PLAN's per-run limits and a wall-time budget; what it could not do is in `left`, and the next run goes on.",
  ...guard,
  request: {
    query: z.object({
      billDate: CalendarDate.optional().openapi({ param: { name: "billDate", in: "query" }, description: "also check this day's trade bill now (YYYY-MM-DD)" }),
    }),
  },
  responses: {
    200: { description: "the run's report", content: json(z.object({ report: ReportSchema })) },
    ...errorResponses("invalid_request", ...ADMIN_CHANGE_ERRORS, "reconcile_running"),
  },
});

const billRoute = createRoute({
  method: "get",
  path: "/admin/bills/{date}",
  tags,
  summary: "The daily trade-bill check of one date and the differences it found",
  ...guard,
  request: { params: z.object({ date: CalendarDate.openapi({ param: { name: "date", in: "path" }, example: "2026-11-28" }) }) },
  responses: {
    200: {
      description: "check summary (null if that date was never checked) and differences",
      content: json(
        z.object({
          billDate: z.string(),
          check: Anything,
          diffs: z.array(z.object({ kind: z.string(), outTradeNo: z.string().nullable(), outRefundNo: z.string().nullable(), detail: Anything, at: z.string() })),
        }),
      ),
    },
    ...errorResponses("invalid_request", ...ADMIN_AUTH_ERRORS),
  },
});

const revokeRoute = createRoute({
  method: "post",
  path: "/admin/users/{id}/revoke-sessions",
  tags,
  summary: "End every session of a user (by user id or openid): tokens issued until now are refused",
  ...guard,
  request: { params: IdParams },
  responses: { 204: { description: "sessions ended; the user's next login works at once" }, ...errorResponses("invalid_request", ...ADMIN_CHANGE_ERRORS, "not_found") },
});

export function refundContext(c: Context<AppEnv>): RefundServiceCtx {
  const { db, deps, config } = c.var;
  return { db, deps, config, port: createWechatPay({ config, deps, db }).port };
}

export const adminRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => {
    const q = c.req.valid("query");
    return c.json(await listOrdersForAdmin(c.var.db, q), 200);
  })
  .openapi(detailRoute, async (c) => {
    const detail = await orderDetailForAdmin(c.var.db, c.req.valid("param").id, c.var.config);
    return c.json(detail as z.infer<typeof OrderDetail>, 200);
  })
  .openapi(refundRoute, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const r = await createRefund(refundContext(c), id, body, key);
    c.var.log.info("admin refund", { orderId: id, refundId: r.refund.id, created: r.created, status: r.refund.status });
    return r.created ? c.json({ refund: serializeRefund(r.refund) }, 201) : c.json({ refund: serializeRefund(r.refund) }, 200);
  })
  .openapi(getRefundRoute, async (c) => {
    const refund = await getRefund(c.var.db, c.req.valid("param").id);
    if (!refund) throw new AppError("not_found", "refund not found");
    return c.json({ refund: serializeRefund(refund) }, 200);
  })
  .openapi(reconcileRoute, async (c) => {
    const { billDate } = c.req.valid("query");
    const report = await runReconciliation(c.env, c.var.deps, { trigger: "admin", ...(billDate ? { billDate } : {}) });
    return c.json({ report }, 200);
  })
  .openapi(revokeRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await revokeSessions(c.env.DB, id, c.var.deps.clock.now()))) throw new AppError("not_found", "no user with this id or openid");
    c.var.log.info("admin ended a user's sessions", { user: id });
    return c.body(null, 204);
  })
  .openapi(billRoute, async (c) => {
    const { date } = c.req.valid("param");
    const [check, diffs] = await Promise.all([billCheckOf(c.var, date), billDiffsForDate(c.var.db, date)]);
    return c.json({ billDate: date, check, diffs }, 200);
  });

/**
 * @module routes/orders — the mini-program order API (SPEC §3): create, pay, read (with sync),
 * list, cancel. Thin: validate, build the orders context, call the service, shape the answer.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireUser, requireUserToken } from "../auth/middleware";
import { sessionGuard } from "../auth/session";
import type { AppEnv } from "../context";
import { runFulfilment } from "../fulfilment/runner";
import { cancelOrder, createOrder, getOrder, listOrders, type OrdersContext, payOrder, type PaymentGateway } from "../orders/service";
import { LOGISTICS_TYPES, ORDER_STATUSES, SHIPPING_STATUSES } from "../db/schema";
import { createWechatPay } from "../wechat/pay";
import { bearerAuth, BODY_ERRORS, errorResponses, idempotencyHeaders } from "./schemas";

// ---------------------------------------------------------------------------------------------
// Schemas (they validate requests and generate /openapi.json)
// ---------------------------------------------------------------------------------------------

export const CreateOrderRequest = z
  .object({
    items: z
      .array(
        z
          .object({
            productId: z.string().min(1).max(64).openapi({ example: "prod_coffee" }),
            quantity: z.number().int().min(1).max(99).openapi({ example: 1 }),
          })
          .strict(),
      )
      .min(1, "an order needs at least one line")
      .max(20, "at most 20 lines per order")
      .superRefine((items, ctx) => {
        const seen = new Set<string>();
        items.forEach((item, i) => {
          if (seen.has(item.productId)) {
            ctx.addIssue({ code: "custom", path: [i, "productId"], message: "the same product appears on two lines; use quantity" });
          }
          seen.add(item.productId);
        });
      }),
  })
  .strict()
  .openapi("CreateOrderRequest");

export const OrderSchema = z
  .object({
    id: z.string(),
    outTradeNo: z.string(),
    status: z.enum(ORDER_STATUSES),
    amount: z.number().int().openapi({ description: "integer fen" }),
    currency: z.string().openapi({ example: "CNY" }),
    description: z.string(),
    items: z.array(
      z.object({ productId: z.string(), name: z.string(), quantity: z.number().int(), unitPrice: z.number().int() }),
    ),
    refundedAmount: z.number().int(),
    transactionId: z.string().nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
    paidAt: z.string().nullable().openapi({ format: "date-time" }),
    expiresAt: z.string().openapi({ format: "date-time" }),
    shipping: z
      .object({
        status: z.enum(SHIPPING_STATUSES),
        logisticsType: z.enum(LOGISTICS_TYPES).nullable(),
        parcels: z.array(z.object({ trackingNo: z.string().nullable(), expressCompany: z.string().nullable() })),
      })
      .nullable()
      .optional()
      .openapi("OrderShipping", { description: "GET /v1/orders/{id} only: shipping-info management state; null until paid" }),
  })
  .openapi("Order");

export const PaymentSchema = z
  .object({
    timeStamp: z.string(),
    nonceStr: z.string(),
    package: z.string().openapi({ example: "prepay_id=wx201410272009395522657a690389285100" }),
    signType: z.literal("RSA"),
    paySign: z.string(),
  })
  .openapi("RequestPayment", { description: "exactly the arguments of wx.requestPayment" });

const OrderWithPayment = z.object({ order: OrderSchema, payment: PaymentSchema }).openapi("OrderWithPayment");
const OrderOnly = z.object({ order: OrderSchema }).openapi("OrderResponse");

const IdempotencyHeaders = idempotencyHeaders("order");

const IdParams = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ param: { name: "limit", in: "query" } }),
  cursor: z.string().min(1).max(200).optional().openapi({ param: { name: "cursor", in: "query" } }),
});

const SyncQuery = z.object({
  sync: z.enum(["true", "false"]).optional().openapi({ param: { name: "sync", in: "query" }, description: "query WeChat first (PAYING orders; at most once per 5 s per order and twice a second per user, else answered from the database)" }),
});

const json = <T>(schema: T) => ({ "application/json": { schema } });

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/orders",
  tags: ["mini program"],
  summary: "Price the items, store the order, prepay, and return wx.requestPayment parameters",
  security: bearerAuth,
  middleware: [requireUserToken] as const,
  request: { headers: IdempotencyHeaders, body: { required: true, content: json(CreateOrderRequest) } },
  responses: {
    201: { description: "order created and PAYING", content: json(OrderWithPayment) },
    200: { description: "repeat with the same Idempotency-Key and body: the same order", content: json(OrderWithPayment) },
    ...errorResponses(...BODY_ERRORS, "unauthorized", "idempotency_conflict", "order_not_payable", "rate_limited", "too_many_unpaid_orders", "payment_provider_error", "unavailable"),
  },
});

const payRouteDef = createRoute({
  method: "post",
  path: "/v1/orders/{id}/pay",
  tags: ["mini program"],
  summary: "Fresh wx.requestPayment parameters for an unpaid order",
  description:
    "Signs the stored prepay_id while WeChat issued it less than 1 h 50 min ago (a repeat prepay answering the same id does not renew it); otherwise repeats the prepay with the order's original parameters, notify_url included.",
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParams },
  responses: {
    200: { description: "payment parameters", content: json(OrderWithPayment) },
    ...errorResponses("invalid_request", "unauthorized", "not_found", "order_not_payable", "payment_provider_error", "unavailable"),
  },
});

const getRouteDef = createRoute({
  method: "get",
  path: "/v1/orders/{id}",
  tags: ["mini program"],
  summary: "One order; with sync=true a PAYING order is checked with WeChat first",
  security: bearerAuth,
  middleware: [requireUserToken] as const,
  request: { params: IdParams, query: SyncQuery },
  responses: {
    200: { description: "the order", content: json(OrderOnly) },
    ...errorResponses("invalid_request", "unauthorized", "not_found"),
  },
});

const listRouteDef = createRoute({
  method: "get",
  path: "/v1/orders",
  tags: ["mini program"],
  summary: "The caller's orders, newest first",
  security: bearerAuth,
  middleware: [requireUserToken] as const,
  request: { query: ListQuery },
  responses: {
    200: {
      description: "a page of orders",
      content: json(z.object({ orders: z.array(OrderSchema), nextCursor: z.string().nullable() }).openapi("OrderList")),
    },
    ...errorResponses("invalid_request", "unauthorized"),
  },
});

const cancelRouteDef = createRoute({
  method: "post",
  path: "/v1/orders/{id}/cancel",
  tags: ["mini program"],
  summary: "Close the order at WeChat, then locally",
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParams },
  responses: {
    200: { description: "the closed order", content: json(OrderOnly) },
    ...errorResponses("invalid_request", "unauthorized", "not_found", "order_not_payable", "payment_provider_error"),
  },
});

/** The orders context for one request; WeChat Pay is built only if the request needs it. */
export function ordersContext(c: Context<AppEnv>): OrdersContext {
  const { db, deps, config, log, user } = c.var;
  let gateway: PaymentGateway | undefined;
  return {
    db,
    deps,
    config,
    log,
    // create, get and list (requireUserToken) check revocation in their first D1 batch.
    sessionGuard: sessionGuard(user),
    pay: () => (gateway ??= createWechatPay({ config, deps, db })),
    onPaid: (orderId) => {
      c.executionCtx.waitUntil(
        runFulfilment(db, deps, c.env, orderId).catch((err: unknown) => log.error("fulfilment run failed", { orderId, error: err })),
      );
    },
  };
}

export const orderRoutes = new OpenAPIHono<AppEnv>()
  .openapi(createRouteDef, async (c) => {
    const body = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"] ?? null;
    const r = await createOrder(ordersContext(c), c.var.user, body, key);
    return c.json({ order: r.order, payment: r.payment }, r.created ? 201 : 200);
  })
  .openapi(payRouteDef, async (c) => {
    const r = await payOrder(ordersContext(c), c.var.user, c.req.valid("param").id);
    return c.json(r, 200);
  })
  .openapi(getRouteDef, async (c) => {
    const order = await getOrder(ordersContext(c), c.var.user, c.req.valid("param").id, c.req.valid("query").sync === "true");
    return c.json({ order }, 200);
  })
  .openapi(listRouteDef, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listOrders(ordersContext(c), c.var.user, limit, cursor ?? null), 200);
  })
  .openapi(cancelRouteDef, async (c) => {
    const order = await cancelOrder(ordersContext(c), c.var.user, c.req.valid("param").id);
    return c.json({ order }, 200);
  });


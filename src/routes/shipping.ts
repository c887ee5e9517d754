/**
 * @module routes/shipping — `POST /admin/orders/{id}/shipping` (SPEC §9): record a shipment and
 * upload it to WeChat's shipping-info management. Admin-only; thin.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { adminAuth } from "../admin/auth";
import type { AppEnv } from "../context";
import { LOGISTICS_TYPES, SHIPPING_STATUSES } from "../db/schema";
import { ShipmentRequestSchema } from "../shipping/request";
import { requestShipment } from "../shipping/service";
import { adminShipping } from "../shipping/view";
import { findOrderById } from "../orders/repository";
import { ADMIN_CHANGE_ERRORS, adminSecurity, BODY_ERRORS, errorResponses, requiredIdempotencyHeaders } from "./schemas";

const json = <T>(schema: T) => ({ "application/json": { schema } });

export const AdminShippingSchema = z
  .object({
    status: z.enum(SHIPPING_STATUSES),
    logisticsType: z.enum(LOGISTICS_TYPES).nullable(),
    parcels: z.array(
      z.object({
        trackingNo: z.string().optional(),
        expressCompany: z.string().optional(),
        itemDesc: z.string(),
        contact: z.object({ consignorContact: z.string().optional(), receiverContact: z.string().optional() }).optional(),
      }),
    ),
    isAllDelivered: z.boolean().nullable(),
    uploadedAt: z.string().nullable(),
    receivedAt: z.string().nullable(),
    settledAt: z.string().nullable(),
    attempts: z.number().int(),
    uploads: z.number().int().openapi({ description: "uploads WeChat accepted (a payment has one re-ship: at most 2)" }),
    lastError: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
  })
  .openapi("AdminShipping");

const route = createRoute({
  method: "post",
  path: "/admin/orders/{id}/shipping",
  tags: ["admin"],
  summary: "Record a shipment and upload it to WeChat (发货信息管理); retried by the cron until WeChat has it",
  security: adminSecurity,
  middleware: [adminAuth],
  request: {
    params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) }),
    headers: requiredIdempotencyHeaders("shipment"),
    body: { required: true, content: json(ShipmentRequestSchema) },
  },
  responses: {
    202: { description: "recorded; `status` says how far the upload got (UPLOADING: WeChat is retried by the cron)", content: json(z.object({ shipping: AdminShippingSchema })) },
    ...errorResponses(...BODY_ERRORS, ...ADMIN_CHANGE_ERRORS, "not_found", "not_shippable", "idempotency_conflict"),
  },
});

export const shippingRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const key = c.req.valid("header")["idempotency-key"];
  const ctx = { db: c.var.db, d1: c.env.DB, deps: c.var.deps, config: c.var.config, log: c.var.log };
  const row = await requestShipment(ctx, id, c.req.valid("json"), key);
  const order = await findOrderById(c.var.db, id);
  return c.json({ shipping: adminShipping(order?.status ?? "PAID", row)! }, 202);
});

/**
 * @module refunds/serialize — the public `refund` JSON (SPEC §3):
 * `{id, orderId, outRefundNo, amount, status, reason, createdAt, settledAt}`, times RFC 3339 UTC.
 */
import { z } from "@hono/zod-openapi";
import type { RefundRow } from "./repository";

export const RefundSchema = z
  .object({
    id: z.string(),
    orderId: z.string(),
    outRefundNo: z.string(),
    amount: z.number().int().openapi({ description: "integer fen" }),
    status: z.enum(["PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL"]),
    reason: z.string().nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
    settledAt: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("Refund");

export type RefundJson = z.infer<typeof RefundSchema>;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function serializeRefund(r: RefundRow): RefundJson {
  return {
    id: r.id,
    orderId: r.orderId,
    outRefundNo: r.outRefundNo,
    amount: r.amount,
    status: r.status,
    reason: r.reason,
    createdAt: new Date(r.createdAt).toISOString(),
    settledAt: iso(r.settledAt),
  };
}

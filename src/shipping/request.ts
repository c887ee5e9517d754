/**
 * @module shipping/request — what a shipment request is (SPEC §9): the admin route's body and
 * what the fulfilment hook may return, validated by one schema. Contacts are phone numbers
 * masked with the last 4 digits visible (WECHATPAY.md N.1); an unmasked number is masked here.
 */
import { z } from "@hono/zod-openapi";
import { LOGISTICS_TYPES } from "../db/schema";
import { maskPhone } from "../wechat/server/phone";
import { ITEM_DESC_MAX } from "../wechat/server/shipping";

/** `189****1234`, `021-****1234`, `+86-177****1234`, or plain digits (masked for you). */
const CONTACT = /^\+?[0-9*][0-9* -]{3,30}$/;
const Contact = z
  .string()
  .regex(CONTACT, "must be a phone number (masked like 138****1234, or plain digits that are masked for you)")
  .refine((s) => /\d{4}$/.test(s.replace(/[ -]/g, "")), "must end in the last 4 digits");

const Parcel = z
  .object({
    trackingNo: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, "printable ASCII, 1–128 characters").optional(),
    expressCompany: z.string().min(1).max(32).regex(/^[A-Za-z0-9_()-]+$/, "a carrier code from get_delivery_list, e.g. SF, YTO, ZTO").optional(),
    itemDesc: z
      .string()
      .min(1)
      .refine((s) => Array.from(s).length <= ITEM_DESC_MAX, `at most ${ITEM_DESC_MAX} characters`)
      .optional()
      .openapi({ description: "default: the order's lines (name*quantity, …)" }),
    contact: z.object({ consignorContact: Contact.optional(), receiverContact: Contact.optional() }).strict().optional(),
  })
  .strict();

export const ShipmentRequestSchema = z
  .object({
    logisticsType: z.enum(LOGISTICS_TYPES).openapi({ description: "express (courier), same_city, virtual (nothing shipped), pickup" }),
    parcels: z.array(Parcel).min(1).max(15).optional().openapi({ description: "several = split delivery, express only; default one parcel" }),
    isAllDelivered: z.boolean().optional().openapi({ description: "split delivery: whether this completes the shipment (default true)" }),
  })
  .strict()
  .superRefine((r, ctx) => {
    const parcels = r.parcels ?? [];
    if (r.logisticsType === "express") {
      if (parcels.length === 0) ctx.addIssue({ code: "custom", path: ["parcels"], message: "express needs its parcels (trackingNo, expressCompany)" });
      parcels.forEach((p, i) => {
        if (!p.trackingNo) ctx.addIssue({ code: "custom", path: ["parcels", i, "trackingNo"], message: "required for express" });
        if (!p.expressCompany) ctx.addIssue({ code: "custom", path: ["parcels", i, "expressCompany"], message: "required for express" });
      });
    } else if (parcels.length > 1) {
      ctx.addIssue({ code: "custom", path: ["parcels"], message: "split delivery (several parcels) is for express only" });
    }
  })
  .openapi("ShipmentRequest");

export type ShipmentRequest = z.infer<typeof ShipmentRequestSchema>;

/** A contact as WeChat wants it: masked, last 4 digits visible. */
export function maskedContact(s: string): string {
  if (s.includes("*")) return s;
  const digits = s.replace(/\D/g, "");
  return maskPhone(digits);
}

/**
 * @module routes/schemas — response and error schemas shared by the route modules; the same
 * objects validate requests and generate `/openapi.json`.
 */
import { z } from "@hono/zod-openapi";
import { ERROR_STATUS, type ErrorCode } from "../errors";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_request" }),
      message: z.string(),
      requestId: z.string(),
    }),
  })
  .openapi("Error");

/** OpenAPI `responses` entries for the given error codes (grouped by status). */
export function errorResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const s = ERROR_STATUS[code];
    byStatus.set(s, [...(byStatus.get(s) ?? []), code]);
  }
  const out: Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> = {};
  for (const [status, cs] of byStatus) {
    out[status] = { description: cs.join(", "), content: { "application/json": { schema: ErrorSchema } } };
  }
  return out;
}

/** Errors any JSON-body route can answer before its handler runs. */
/** What admin authentication itself can answer: a wrong token, or too many wrong ones from this address. */
export const ADMIN_AUTH_ERRORS = ["unauthorized", "rate_limited"] as const;
/**
 * What it can answer on a state-changing admin route: also `forbidden`, a console session
 * without its CSRF token or from another origin (every POST/PATCH admin route lists these).
 */
export const ADMIN_CHANGE_ERRORS = [...ADMIN_AUTH_ERRORS, "forbidden"] as const;
export const BODY_ERRORS: ErrorCode[] = ["invalid_request", "payload_too_large", "unsupported_media_type"];

export const bearerAuth = [{ bearerAuth: [] }];
/** Admin routes: the bearer token, or the console's session cookie (+ CSRF token on changes). */
export const adminSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }, { consoleSession: [] }];

const idempotencyKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, "must be 1–128 printable ASCII characters");

/** The optional `Idempotency-Key` header: repeat a key with the same body to get the same `what` back. */
export const idempotencyHeaders = (what: string) =>
  z.object({
    "idempotency-key": idempotencyKey.optional().openapi({ description: `repeat the same key with the same body to get the same ${what} back` }),
  });

/** The same header, required (a request that moves money and must never run twice). */
export const requiredIdempotencyHeaders = (what: string) =>
  z.object({
    "idempotency-key": idempotencyKey.openapi({
      description: `required: a fresh key per ${what}; repeat it with the same body (e.g. after a timeout) to get the same ${what} back, never a second one`,
    }),
  });

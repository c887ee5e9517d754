/**
 * @module routes/users — `POST /v1/users/me/phone` (SPEC §9): the getPhoneNumber button's code →
 * the user's number; `POST /v1/users/me/open-data`: legacy encryptedData → the decrypted object.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireUser } from "../auth/middleware";
import type { AppEnv } from "../context";
import { readOpenData } from "../users/open-data";
import { savePhoneNumber } from "../users/phone";
import { bearerAuth, BODY_ERRORS, errorResponses, ErrorSchema } from "./schemas";

export const PhoneRequest = z
  .object({
    code: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[\x21-\x7e]+$/, "must be the code from the getPhoneNumber button (e.detail.code)")
      .openapi({ description: "e.detail.code of <button open-type=\"getPhoneNumber\">, not a wx.login code" }),
  })
  .strict()
  .openapi("PhoneRequest");

export const PhoneResponse = z
  .object({ phone: z.object({ countryCode: z.string().openapi({ example: "86" }), purePhoneNumber: z.string().openapi({ example: "13800138000" }) }) })
  .openapi("PhoneResponse");

const route = createRoute({
  method: "post",
  path: "/v1/users/me/phone",
  tags: ["mini program"],
  summary: "Exchange a getPhoneNumber code for the user's phone number (stored encrypted)",
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { body: { required: true, content: { "application/json": { schema: PhoneRequest } } } },
  responses: {
    200: { description: "the number, as WeChat verified it", content: { "application/json": { schema: PhoneResponse } } },
    ...errorResponses(...BODY_ERRORS, "unauthorized", "rate_limited", "upstream_unavailable"),
    // invalid_code is 400 here (the session is fine, the button's code is not), 401 at login.
    400: { description: "invalid_request, invalid_code (40029: ask the user to tap the button again; never retried)", content: { "application/json": { schema: ErrorSchema } } },
  },
});

/** Standard base64 with padding; the decoded length is checked in the refinements below. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Decoded bytes of a padded base64 string of valid shape. */
const decodedLength = (s: string) => (s.length / 4) * 3 - (s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0);

export const OpenDataRequest = z
  .object({
    encryptedData: z
      .string()
      .min(24)
      // WeRun's 30 days of steps is ~2 KB of base64; 32 KB leaves room for any legacy payload.
      .max(32_768)
      .regex(BASE64, "must be the base64 encryptedData WeChat gave the mini program")
      .refine((s) => s.length % 4 === 0 && decodedLength(s) % 16 === 0, "must be whole AES blocks of base64 (as WeChat gives it)")
      .openapi({ description: "`encryptedData` from wx.getWeRunData, wx.getShareInfo, … (AES-128-CBC, base64)" }),
    iv: z
      .string()
      .regex(/^[A-Za-z0-9+/]{22}==$/, "must be the base64 iv WeChat gave with the data (16 bytes)")
      .openapi({ description: "`iv` from the same call", example: "r7BXXKkLb8qrSNn05n0qiA==" }),
  })
  .strict()
  .openapi("OpenDataRequest");

export const OpenDataResponse = z
  .object({
    data: z
      .record(z.string(), z.unknown())
      .openapi({
        description: "the decrypted object as WeChat wrote it, `watermark` ({timestamp, appid}) included; never stored",
        example: { stepInfoList: [{ timestamp: 1764864000, step: 8231 }], watermark: { timestamp: 1764900000, appid: "wx4f4bc4dec97d474b" } },
      }),
  })
  .openapi("OpenDataResponse");

const openDataRoute = createRoute({
  method: "post",
  path: "/v1/users/me/open-data",
  tags: ["mini program"],
  summary: "Decrypt the user's legacy open data (wx.getWeRunData, wx.getShareInfo, …) with their session_key",
  description:
    "Decrypted with the session_key of the user's last login; the watermark must name this mini program. " +
    "If it does not decrypt, WeChat is asked (wxa/checksession) whether that session_key is still current: " +
    "if not, 401 session_stale — call wx.login, log in again, then fetch the data again (it must be encrypted after the new login).",
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { body: { required: true, content: { "application/json": { schema: OpenDataRequest } } } },
  responses: {
    200: { description: "the decrypted data", content: { "application/json": { schema: OpenDataResponse } } },
    ...errorResponses(...BODY_ERRORS, "unauthorized", "rate_limited", "upstream_unavailable"),
    400: { description: "invalid_request; undecryptable (damaged data or iv while the session is current, or data of another mini program)", content: { "application/json": { schema: ErrorSchema } } },
    401: { description: "unauthorized; session_stale (the stored session_key is superseded: wx.login, log in, fetch the data again)", content: { "application/json": { schema: ErrorSchema } } },
  },
});

export const userRoutes = new OpenAPIHono<AppEnv>()
  .openapi(route, async (c) => {
    const { code } = c.req.valid("json");
    const phone = await savePhoneNumber({ deps: c.var.deps, config: c.var.config, db: c.var.db, d1: c.env.DB }, c.var.user, code);
    return c.json({ phone }, 200);
  })
  .openapi(openDataRoute, async (c) => {
    const data = await readOpenData({ deps: c.var.deps, config: c.var.config, d1: c.env.DB, log: c.var.log }, c.var.user, c.req.valid("json"));
    return c.json({ data }, 200);
  });

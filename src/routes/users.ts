/** @module routes/users — `POST /v1/users/me/phone` (SPEC §9): the getPhoneNumber button's code → the user's number. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireUser } from "../auth/middleware";
import type { AppEnv } from "../context";
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

export const userRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { code } = c.req.valid("json");
  const phone = await savePhoneNumber({ deps: c.var.deps, config: c.var.config, db: c.var.db, d1: c.env.DB }, c.var.user, code);
  return c.json({ phone }, 200);
});

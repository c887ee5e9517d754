/** @module routes/auth — `POST /v1/auth/login` (SPEC §3). */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { presentedSessionToken } from "../auth/middleware";
import { rateLimitAddress } from "../lib/address";
import { login } from "../users/login";
import { BODY_ERRORS, errorResponses } from "./schemas";

export const LoginRequest = z
  .object({
    code: z.string().min(1).max(256).regex(/^[\x21-\x7e]+$/, "must be the code from wx.login").openapi({ example: "0a3Xyz…" }),
  })
  .strict()
  .openapi("LoginRequest");

export const LoginResponse = z
  .object({
    token: z.string(),
    expiresIn: z.number().int().openapi({ description: "seconds until the token expires" }),
    user: z.object({ id: z.string(), openid: z.string() }),
  })
  .openapi("LoginResponse");

const route = createRoute({
  method: "post",
  path: "/v1/auth/login",
  tags: ["mini program"],
  summary: "Exchange a wx.login code for a session token",
  description:
    "Send the previous session token, if the mini program still has one, as `Authorization: Bearer <token>` (optional): " +
    "when WeChat answers 40226 (user blocked), that token's user has every session ended (SPEC §11).",
  // The optional header is documented, not validated: a validator would copy every request
  // header into an object on the login hot path, for a value that is read only after a 40226.
  parameters: [
    {
      name: "authorization",
      in: "header",
      required: false,
      schema: { type: "string" },
      description: "optional: the previous session token (`Bearer <token>`); used only to end that user's sessions if WeChat answers 40226",
    },
  ],
  request: {
    body: { required: true, content: { "application/json": { schema: LoginRequest } } },
  },
  responses: {
    200: { description: "logged in", content: { "application/json": { schema: LoginResponse } } },
    ...errorResponses(...BODY_ERRORS, "invalid_code", "user_blocked", "rate_limited", "upstream_unavailable"),
  },
});

export const authRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { code } = c.req.valid("json");
  const result = await login(
    {
      deps: c.var.deps,
      config: c.var.config,
      db: c.var.db,
      d1: c.env.DB,
      log: c.var.log,
      clientAddress: rateLimitAddress(c.req.header("cf-connecting-ip")),
      previousToken: presentedSessionToken(c),
    },
    code,
  );
  // Debug: the users row (updated_at) is the record (README, LOG_LEVEL).
  c.var.log.debug("login", { userId: result.user.id });
  return c.json(result, 200);
});

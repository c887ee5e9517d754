/**
 * @module routes/docs — `GET /openapi.json` (generated from the same zod schemas that validate
 * requests, so it cannot drift) and `GET /docs`, a browsable page that works offline (no CDN:
 * Swagger UI and friends load their assets from the internet).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { docsHtml } from "./docs-page";
import { cspNonce, secureHtml } from "./security";

export function registerDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "Session token from POST /v1/auth/login (mini-program routes) or ADMIN_TOKEN (/admin routes)",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "consoleSession", {
    type: "apiKey",
    in: "cookie",
    name: "wxe_console",
    description:
      "The console's sign-in session (POST /admin/session). A state change authenticated by it also needs the session's CSRF token in X-CSRF-Token and a same-origin Origin header, else 403 forbidden",
  });
  // The documentation routes document themselves too (SPEC §3 "Operations").
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/openapi.json",
    tags: ["operations"],
    summary: "This OpenAPI 3 document",
    responses: { 200: { description: "the document", content: { "application/json": { schema: { type: "object" } } } } },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/docs",
    tags: ["operations"],
    summary: "A browsable page of this document (works offline)",
    responses: { 200: { description: "HTML", content: { "text/html": { schema: { type: "string" } } } } },
  });
  app.doc("/openapi.json", {
    openapi: "3.0.3",
    info: {
      title: "wxpay-edge",
      version: "0.1.0",
      description:
        "WeChat mini-program login and WeChat Pay APIv3 (JSAPI) payments on one Cloudflare Worker. " +
        "Amounts are integer fen; times RFC 3339 UTC; every error is {error:{code,message,requestId}}.",
    },
    servers: [{ url: "/" }],
  });
  app.get("/docs", secureHtml, (c) => c.html(docsHtml(cspNonce(c))));
}

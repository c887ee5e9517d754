/**
 * @module console/openapi — the console's entry points in /openapi.json (the pages under
 * `/admin/ui/` are HTML for people and are described in the README, not here).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";

const html = { "text/html": { schema: { type: "string" as const } } };

export function documentConsole(app: OpenAPIHono<AppEnv>): void {
  const r = app.openAPIRegistry;
  r.registerPath({
    method: "get",
    path: "/admin",
    tags: ["console"],
    summary: "The operator console: redirects to the sign-in page, or with a session to the overview (/admin/ui/overview)",
    responses: { 302: { description: "redirect" } },
  });
  r.registerPath({
    method: "post",
    path: "/admin/session",
    tags: ["console"],
    summary: "Console sign-in: form field `token` = ADMIN_TOKEN → 8 h session cookie (HttpOnly, SameSite=Strict, Path=/admin)",
    request: { body: { required: true, content: { "application/x-www-form-urlencoded": { schema: { type: "object", properties: { token: { type: "string" } }, required: ["token"] } } } } },
    responses: {
      303: { description: "signed in: Set-Cookie and redirect to the overview" },
      401: { description: "wrong token (the form again, with the error)", content: html },
      403: { description: "the Origin is not this console's", content: html },
      413: { description: "payload_too_large: the body is over 64 KiB (the JSON error envelope, as on every route)" },
      429: { description: "too many failed admin authentications from this address (Retry-After)", content: html },
    },
  });
  r.registerPath({
    method: "post",
    path: "/admin/signout",
    tags: ["console"],
    summary: "Console sign-out (needs the session's CSRF token in `_csrf`): clears the cookie",
    responses: { 303: { description: "signed out: redirect to the sign-in page" }, 403: { description: "wrong origin or CSRF token", content: html } },
  });
}

/** @module routes/health — `GET /healthz`: 200 when D1 answers, 503 when it does not. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { errorResponses } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["operations"],
  summary: "Liveness and D1 reachability",
  responses: {
    200: { description: "D1 answers", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
    ...errorResponses("unavailable"),
  },
});

export const healthRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  try {
    await c.env.DB.prepare("SELECT 1").first();
  } catch (cause) {
    throw new AppError("unavailable", "the database does not answer", { cause, retryAfter: 5 });
  }
  return c.json({ ok: true as const }, 200);
});

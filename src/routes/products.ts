/** @module routes/products — `GET /v1/products`: the catalogue (no login needed). */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { listActiveProducts } from "../catalogue/products";
import type { AppEnv } from "../context";

export const ProductSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    price: z.number().int().openapi({ description: "integer fen" }),
    currency: z.string().openapi({ example: "CNY" }),
  })
  .openapi("Product");

const route = createRoute({
  method: "get",
  path: "/v1/products",
  tags: ["mini program"],
  summary: "The catalogue; the server decides prices",
  responses: {
    200: { description: "active products", content: { "application/json": { schema: z.object({ products: z.array(ProductSchema) }) } } },
  },
});

export const productRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  return c.json({ products: await listActiveProducts(c.var.db) }, 200);
});

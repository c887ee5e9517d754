/**
 * @module routes/admin-console — the admin JSON API behind the console (SPEC §10): money figures,
 * the filtered order list as CSV, the flags inbox, the catalogue editor and the reconciliation
 * runs. Same guard as the rest of /admin (bearer token, or the console session + CSRF token).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ordersCsv } from "../admin/csv";
import { FLAG_STATUSES, listFlags, MAX_NOTE_CHARS, resolveFlag } from "../admin/flags";
import { listRuns } from "../admin/runs";
import { MAX_STATS_DAYS, statsForDays } from "../admin/stats";
import { createProduct, listAllProducts, updateProduct } from "../catalogue/admin";
import type { AppEnv } from "../context";
import { newId } from "../lib/random";
import { shanghaiDate } from "../reconcile/schedule";
import { FlagSchema, guard, OrderFilterQuery } from "./admin";
import { ADMIN_AUTH_ERRORS, ADMIN_CHANGE_ERRORS, BODY_ERRORS, errorResponses } from "./schemas";

const json = <T>(schema: T) => ({ "application/json": { schema } });
const tags = ["admin"];
const q = (name: string) => ({ param: { name, in: "query" as const } });
const p = (name: string) => ({ param: { name, in: "path" as const } });

const Figures = z.object({
  orders: z.number().int().openapi({ description: "orders created" }),
  paid: z.number().int().openapi({ description: "orders paid" }),
  gmvPaid: z.number().int().openapi({ description: "amount paid, integer fen" }),
  refunded: z.number().int().openapi({ description: "refunds settled (SUCCESS), integer fen" }),
  net: z.number().int().openapi({ description: "gmvPaid − refunded, integer fen" }),
});

const StatsSchema = z
  .object({
    days: z.number().int(),
    from: z.string().openapi({ description: "first Asia/Shanghai date covered" }),
    to: z.string().openapi({ description: "last Asia/Shanghai date covered (today)" }),
    totals: Figures,
    daily: z.array(Figures.extend({ date: z.string() })),
    openFlags: z.number().int(),
    lastRun: z
      .object({
        id: z.number().int(),
        trigger: z.string(),
        startedAt: z.string(),
        finishedAt: z.string().nullable(),
        scanned: z.number().int().nullable(),
        changed: z.number().int().nullable(),
        failed: z.number().int().nullable(),
      })
      .nullable(),
    lastBillCheck: z.object({ billDate: z.string(), summary: z.unknown().openapi({ type: "object" }) }).nullable(),
  })
  .openapi("Stats");

const ProductAdmin = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    price: z.number().int().openapi({ description: "integer fen" }),
    currency: z.string(),
    active: z.boolean(),
    sort: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string().nullable(),
  })
  .openapi("AdminProduct");

const ProductAnswer = json(z.object({ product: ProductAdmin }));

/** ¥1,000,000.00 at most: a typo of three extra zeros is refused rather than charged. */
const MAX_PRICE_FEN = 100_000_000;
const productFields = {
  name: z.string().trim().min(1).max(60),
  description: z.string().trim().max(300).optional(),
  price: z.number().int().min(1).max(MAX_PRICE_FEN).openapi({ description: "integer fen; applies to orders created from now on" }),
  active: z.boolean().optional().openapi({ description: "false takes the product off sale (products are never deleted)" }),
  sort: z.number().int().min(-1_000_000).max(1_000_000).optional(),
};
export const PRODUCT_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const ProductCreate = z
  .object({ id: z.string().regex(PRODUCT_ID).optional().openapi({ description: "default: generated (prod_…)" }), ...productFields })
  .strict()
  .openapi("ProductCreate");
export const ProductPatch = z
  .object({ ...productFields, name: productFields.name.optional(), price: productFields.price.optional() })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "send at least one field to change")
  .openapi("ProductPatch");

const statsRoute = createRoute({
  method: "get",
  path: "/admin/stats",
  tags,
  summary: "Orders, paid, GMV, refunds and net for the last N Asia/Shanghai days (today included), daily and in total",
  ...guard,
  request: { query: z.object({ days: z.coerce.number().int().min(1).max(MAX_STATS_DAYS).default(30).openapi(q("days")) }) },
  responses: { 200: { description: "the figures (integer fen)", content: json(StatsSchema) }, ...errorResponses("invalid_request", ...ADMIN_AUTH_ERRORS) },
});

const csvRoute = createRoute({
  method: "get",
  path: "/admin/orders.csv",
  tags,
  summary: "The filtered order list as CSV (UTF-8 with BOM; yuan; Asia/Shanghai times; at most 10 000 rows)",
  ...guard,
  request: { query: OrderFilterQuery },
  responses: {
    200: { description: "CSV; X-Truncated: true when more orders matched than it holds", content: { "text/csv": { schema: z.string() } } },
    ...errorResponses("invalid_request", ...ADMIN_AUTH_ERRORS),
  },
});

const flagsRoute = createRoute({
  method: "get",
  path: "/admin/flags",
  tags,
  summary: "Flags (money that did not fit), open or resolved, newest first",
  ...guard,
  request: {
    query: z.object({
      status: z.enum(FLAG_STATUSES).default("open").openapi(q("status")),
      limit: z.coerce.number().int().min(1).max(200).default(50).openapi(q("limit")),
      cursor: z.string().regex(/^\d{1,15}$/).optional().openapi(q("cursor")),
    }),
  },
  responses: { 200: { description: "a page of flags", content: json(z.object({ flags: z.array(FlagSchema), nextCursor: z.string().nullable() })) }, ...errorResponses("invalid_request", ...ADMIN_AUTH_ERRORS) },
});

const resolveRoute = createRoute({
  method: "post",
  path: "/admin/flags/{id}/resolve",
  tags,
  summary: "Resolve a flag with a note saying what was done",
  ...guard,
  request: {
    params: z.object({ id: z.string().regex(/^\d{1,15}$/).openapi(p("id")) }),
    body: { required: true, content: json(z.object({ note: z.string().min(1).max(MAX_NOTE_CHARS) }).strict().openapi("FlagResolve")) },
  },
  responses: {
    200: { description: "the resolved flag", content: json(z.object({ flag: FlagSchema })) },
    ...errorResponses(...BODY_ERRORS, ...ADMIN_CHANGE_ERRORS, "not_found", "conflict"),
  },
});

const productsRoute = createRoute({
  method: "get",
  path: "/admin/products",
  tags,
  summary: "The whole catalogue, inactive products included",
  ...guard,
  responses: { 200: { description: "all products", content: json(z.object({ products: z.array(ProductAdmin) })) }, ...errorResponses(...ADMIN_AUTH_ERRORS) },
});

const createProductRoute = createRoute({
  method: "post",
  path: "/admin/products",
  tags,
  summary: "Add a product",
  ...guard,
  request: { body: { required: true, content: json(ProductCreate) } },
  responses: {
    201: { description: "the product", content: ProductAnswer },
    ...errorResponses(...BODY_ERRORS, ...ADMIN_CHANGE_ERRORS, "conflict"),
  },
});

const patchProductRoute = createRoute({
  method: "patch",
  path: "/admin/products/{id}",
  tags,
  summary: "Edit a product (name, description, price, active, sort); a new price applies to new orders only",
  ...guard,
  request: { params: z.object({ id: z.string().regex(PRODUCT_ID).openapi(p("id")) }), body: { required: true, content: json(ProductPatch) } },
  responses: {
    200: { description: "the product", content: ProductAnswer },
    ...errorResponses(...BODY_ERRORS, ...ADMIN_CHANGE_ERRORS, "not_found"),
  },
});

const runsRoute = createRoute({
  method: "get",
  path: "/admin/reconcile/runs",
  tags,
  summary: "Reconciliation runs, newest first, with their report's counts, bill check and errors",
  ...guard,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20).openapi(q("limit")),
      cursor: z.string().regex(/^\d{1,15}$/).optional().openapi(q("cursor")),
    }),
  },
  responses: {
    200: {
      description: "a page of runs",
      content: json(
        z.object({
          runs: z.array(
            z.object({
              id: z.number().int(),
              trigger: z.string(),
              startedAt: z.string(),
              finishedAt: z.string().nullable(),
              scanned: z.number().int().nullable(),
              changed: z.number().int().nullable(),
              failed: z.number().int().nullable(),
              bill: z.unknown().openapi({ type: "object" }),
              errors: z.array(z.unknown().openapi({ type: "object" })),
            }),
          ),
          nextCursor: z.string().nullable(),
        }),
      ),
    },
    ...errorResponses("invalid_request", ...ADMIN_AUTH_ERRORS),
  },
});

const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));

export const adminConsoleRoutes = new OpenAPIHono<AppEnv>()
  .openapi(statsRoute, async (c) => c.json(await statsForDays(c.var.db, c.var.deps.clock.now(), c.req.valid("query").days), 200))
  .openapi(csvRoute, async (c) => {
    const { csv, truncated } = await ordersCsv(c.var.db, c.req.valid("query"));
    return c.body(csv, 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="orders-${shanghaiDate(c.var.deps.clock.now())}.csv"`,
      "cache-control": "no-store",
      "x-truncated": String(truncated),
    });
  })
  .openapi(flagsRoute, async (c) => {
    const { status, limit, cursor } = c.req.valid("query");
    return c.json(await listFlags(c.var.db, { status, limit, cursor: num(cursor) }), 200);
  })
  .openapi(resolveRoute, async (c) => {
    const flag = await resolveFlag(c.var.db, Number(c.req.valid("param").id), c.req.valid("json").note, c.var.deps.clock.now());
    c.var.log.info("flag resolved", { flagId: flag.id, orderId: flag.orderId, kind: flag.kind });
    return c.json({ flag }, 200);
  })
  .openapi(productsRoute, async (c) => c.json({ products: await listAllProducts(c.var.db) }, 200))
  .openapi(createProductRoute, async (c) => {
    const { id, ...fields } = c.req.valid("json");
    const product = await createProduct(c.var.db, id ?? newId(c.var.deps.random, "prod"), fields, c.var.deps.clock.now());
    c.var.log.info("product created", { productId: product.id, price: product.price });
    return c.json({ product }, 201);
  })
  .openapi(patchProductRoute, async (c) => {
    const product = await updateProduct(c.var.db, c.req.valid("param").id, c.req.valid("json"), c.var.deps.clock.now());
    c.var.log.info("product changed", { productId: product.id, price: product.price, active: product.active });
    return c.json({ product }, 200);
  })
  .openapi(runsRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listRuns(c.var.db, { limit, cursor: num(cursor) }), 200);
  });

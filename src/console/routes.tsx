/** @jsxImportSource hono/jsx */
/**
 * @module console/routes — the operator console (SPEC §10), mounted at `/admin`: the sign-in,
 * the pages under `/admin/ui/`, their form actions, and the two static assets. Handlers call the
 * same modules as the JSON API (admin/*, catalogue/admin, refunds, orders, reconcile) — the
 * console has no SQL of its own. Every page is server-rendered; forms work without JavaScript.
 */
import { Hono, type Context } from "hono";
import type { Child } from "hono/jsx";
import { FLAG_STATUSES, listFlags, resolveFlag, type FlagStatus } from "../admin/flags";
import { billDiffsForDate, listOrdersForAdmin, orderDetailForAdmin, type OrderFilter } from "../admin/queries";
import { checkedBillDates, listRuns } from "../admin/runs";
import { statsForDays } from "../admin/stats";
import { createProduct, listAllProducts, updateProduct } from "../catalogue/admin";
import type { AppEnv, SessionUser } from "../context";
import { ORDER_STATUSES, type OrderStatus } from "../db/schema";
import { AppError } from "../errors";
import { yuanToFen } from "../lib/money";
import { newId } from "../lib/random";
import { cancelOrder, getOrder, type OrdersContext } from "../orders/service";
import { billCheckOf } from "../reconcile/billcheck";
import { runReconciliation } from "../reconcile/job";
import { shanghaiDate, shanghaiDayBounds } from "../reconcile/schedule";
import { getOrderRow, refundHeadroom } from "../refunds/repository";
import { createRefund } from "../refunds/service";
import { ShipmentRequestSchema } from "../shipping/request";
import { requestShipment } from "../shipping/service";
import { refundContext } from "../routes/admin";
import { ProductCreate, ProductPatch } from "../routes/admin-console";
import { ordersContext } from "../routes/orders";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets";
import { assertNotForged, SAFE_METHODS } from "./forgery";
import { cspNonce, secureHtml } from "../routes/security";
import { langOf, translator, type Key } from "./i18n";
import { consoleSessionOf } from "./session";
import { HOME, SIGN_IN_PAGE, signIn, signOut } from "./signin";
import { ErrorPage, SignInPage } from "./views/signin";
import { FlagsPage } from "./views/flags";
import { renderPage, type PageCtx } from "./views/layout";
import { OrderPage } from "./views/order";
import { OrdersPage } from "./views/orders";
import { OverviewPage } from "./views/overview";
import { ProductsPage } from "./views/products";
import { BillsPage, RunsPage } from "./views/reconcile";

type C = Context<AppEnv>;

/** `?done=` codes a redirect after a successful action carries, and the notice each shows. */
const DONE: Record<string, Key> = { shipped: "shipped", refunded: "refundDone", synced: "synced", cancelled: "cancelled", resolved: "resolvedDone", saved: "saved", ran: "ranNow" };

function pageCtx(c: C): PageCtx {
  const lang = langOf(c);
  const session = c.get("consoleSession");
  return { t: translator(lang), lang, path: c.req.path, nonce: cspNonce(c), ...(session ? { csrf: session.csrf } : {}) };
}

const notice = (c: C, p: PageCtx) => {
  const key = DONE[c.req.query("done") ?? ""];
  return key ? p.t(key) : undefined;
};

async function page(c: C, node: Child, status: 200 | 400 | 401 | 403 | 404 | 409 | 429 | 500 | 502 = 200): Promise<Response> {
  return c.html(await renderPage(node), status);
}

const form = async (c: C): Promise<Record<string, string>> => {
  const body = await c.req.parseBody();
  return Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === "string"));
};

function orderFilter(c: C): OrderFilter {
  const status = c.req.query("status");
  const date = (v: string | undefined) => (v && shanghaiDayBounds(v) ? v : undefined);
  return {
    status: (ORDER_STATUSES as readonly string[]).includes(status ?? "") ? (status as OrderStatus) : undefined,
    q: c.req.query("q")?.trim().slice(0, 128) || undefined,
    from: date(c.req.query("from")),
    to: date(c.req.query("to")),
  };
}

async function orderPage(c: C, id: string, extra: { status?: 400 | 409 | 502; error?: string; typed?: { amount: string; reason: string } } = {}) {
  const p = pageCtx(c);
  const [d, headroom] = await Promise.all([orderDetailForAdmin(c.var.db, id, c.var.config), refundHeadroom(c.var.db, id)]);
  const refundable = Math.max(0, d.order.amount - headroom.inFlightOrDone);
  return page(
    c,
    <OrderPage p={p} d={d} refundable={refundable} refundKey={newId(c.var.deps.random, "rk")} shipKey={newId(c.var.deps.random, "sk")} notice={notice(c, p)} error={extra.error} typed={extra.typed} />,
    extra.status ?? 200,
  );
}

/** The order's own payer, for the services that act on behalf of a user (sync, cancel). */
async function payerOf(c: C, id: string): Promise<SessionUser> {
  const o = await getOrderRow(c.var.db, id);
  if (!o) throw new AppError("not_found", "order not found");
  return { id: o.userId, openid: o.openid, iat: 0 };
}

/** The orders context for the operator: no user session to check (the admin acts for the payer). */
const adminOrdersContext = (c: C): OrdersContext => ({ ...ordersContext(c), sessionGuard: undefined });

export const consoleRoutes = new Hono<AppEnv>();

// Every console answer gets the HTML hardening headers (CSP with a per-response nonce, nosniff,
// no framing, no-store) — but a same-origin Referrer-Policy: with `no-referrer` a browser sends
// `Origin: null` on form posts, and the forgery check needs the real Origin.
for (const path of ["/", "/session", "/signout", "/static/*", "/ui/*"]) {
  consoleRoutes.use(path, secureHtml, async (c, next) => {
    c.header("Referrer-Policy", "same-origin");
    await next();
  });
}

consoleRoutes.get("/", async (c) => c.redirect((await consoleSessionOf(c)) ? HOME : SIGN_IN_PAGE, 302));
consoleRoutes.post("/session", signIn);
consoleRoutes.post("/signout", signOut);
consoleRoutes.get("/static/console.css", (c) => {
  c.header("Cache-Control", "public, max-age=300");
  return c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8" });
});
consoleRoutes.get("/static/console.js", (c) => {
  c.header("Cache-Control", "public, max-age=300");
  return c.body(CONSOLE_JS, 200, { "content-type": "text/javascript; charset=utf-8" });
});

consoleRoutes.get("/ui/signin", async (c) => {
  if (await consoleSessionOf(c)) return c.redirect(HOME, 302);
  return page(c, <SignInPage p={pageCtx(c)} />);
});

// Every other page needs the session; every state change also the forgery checks.
consoleRoutes.use("/ui/*", async (c, next) => {
  const session = await consoleSessionOf(c);
  if (!session) {
    if (SAFE_METHODS.has(c.req.method)) return c.redirect(SIGN_IN_PAGE, 303);
    throw new AppError("forbidden", "sign in first");
  }
  await assertNotForged(c, session);
  await next();
});

consoleRoutes.get("/ui/overview", async (c) => {
  const stats = await statsForDays(c.var.db, c.var.deps.clock.now(), 30);
  return page(c, <OverviewPage p={pageCtx(c)} stats={stats} />);
});

consoleRoutes.get("/ui/orders", async (c) => {
  const filter = orderFilter(c);
  const cursor = c.req.query("cursor");
  const list = await listOrdersForAdmin(c.var.db, { ...filter, limit: 50, cursor: cursor || undefined });
  return page(c, <OrdersPage p={pageCtx(c)} filter={filter} list={list} />);
});

consoleRoutes.get("/ui/orders/:id", (c) => orderPage(c, c.req.param("id")));

consoleRoutes.post("/ui/orders/:id/refund", async (c) => {
  const id = c.req.param("id");
  const f = await form(c);
  const typed = { amount: f.amount ?? "", reason: f.reason ?? "" };
  const p = pageCtx(c);
  const amount = yuanToFen(typed.amount);
  if (amount === null || amount <= 0) return orderPage(c, id, { status: 400, error: p.t("refundInvalid"), typed });
  const key = f.idempotencyKey ?? "";
  if (!/^[\x21-\x7e]{1,128}$/.test(key)) return orderPage(c, id, { status: 400, error: p.t("error"), typed });
  try {
    const r = await createRefund(refundContext(c), id, { amount, reason: typed.reason || undefined }, key);
    c.var.log.info("admin refund", { orderId: id, refundId: r.refund.id, created: r.created, status: r.refund.status, via: "console" });
  } catch (err) {
    if (!(err instanceof AppError) || err.status === 404 || err.status >= 500 && err.code !== "payment_provider_error") throw err;
    const tooMuch = err.code === "refund_not_allowed" ? `${p.t("refundTooMuch")}: ` : "";
    return orderPage(c, id, { status: err.status as 400 | 409 | 502, error: `${tooMuch}${err.message}`, typed });
  }
  return c.redirect(`/admin/ui/orders/${id}?done=refunded`, 303);
});

consoleRoutes.post("/ui/orders/:id/shipping", async (c) => {
  const id = c.req.param("id");
  const f = await form(c);
  const parcel = { ...(f.trackingNo?.trim() ? { trackingNo: f.trackingNo.trim() } : {}), ...(f.expressCompany?.trim() ? { expressCompany: f.expressCompany.trim() } : {}) };
  const parsed = ShipmentRequestSchema.safeParse({ logisticsType: f.logisticsType, ...(Object.keys(parcel).length ? { parcels: [parcel] } : {}) });
  if (!parsed.success) return orderPage(c, id, { status: 400, error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") });
  const key = f.idempotencyKey ?? "";
  if (!/^[\x21-\x7e]{1,128}$/.test(key)) return orderPage(c, id, { status: 400, error: pageCtx(c).t("error") });
  try {
    await requestShipment({ db: c.var.db, d1: c.env.DB, deps: c.var.deps, config: c.var.config, log: c.var.log }, id, parsed.data, key);
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 409) throw err;
    return orderPage(c, id, { status: 409, error: err.message });
  }
  c.var.log.info("admin shipment", { orderId: id, logisticsType: parsed.data.logisticsType, via: "console" });
  return c.redirect(`/admin/ui/orders/${id}?done=shipped`, 303);
});

consoleRoutes.post("/ui/orders/:id/sync", async (c) => {
  const id = c.req.param("id");
  await getOrder(adminOrdersContext(c), await payerOf(c, id), id, true);
  return c.redirect(`/admin/ui/orders/${id}?done=synced`, 303);
});

consoleRoutes.post("/ui/orders/:id/cancel", async (c) => {
  const id = c.req.param("id");
  try {
    await cancelOrder(adminOrdersContext(c), await payerOf(c, id), id);
  } catch (err) {
    if (!(err instanceof AppError) || (err.status !== 409 && err.status !== 502)) throw err;
    return orderPage(c, id, { status: err.status as 409 | 502, error: err.message });
  }
  c.var.log.info("admin cancel", { orderId: id, via: "console" });
  return c.redirect(`/admin/ui/orders/${id}?done=cancelled`, 303);
});

consoleRoutes.get("/ui/flags", async (c) => {
  const status: FlagStatus = (FLAG_STATUSES as readonly string[]).includes(c.req.query("status") ?? "") ? (c.req.query("status") as FlagStatus) : "open";
  const cursor = Number(c.req.query("cursor"));
  const p = pageCtx(c);
  const r = await listFlags(c.var.db, { status, limit: 50, cursor: Number.isSafeInteger(cursor) && cursor > 0 ? cursor : undefined });
  return page(c, <FlagsPage p={p} status={status} flags={r.flags} nextCursor={r.nextCursor} notice={notice(c, p)} />);
});

consoleRoutes.post("/ui/flags/:id/resolve", async (c) => {
  const id = Number(c.req.param("id"));
  if (!Number.isSafeInteger(id)) throw new AppError("not_found", "flag not found");
  const flag = await resolveFlag(c.var.db, id, (await form(c)).note ?? "", c.var.deps.clock.now());
  c.var.log.info("flag resolved", { flagId: flag.id, orderId: flag.orderId, kind: flag.kind, via: "console" });
  return c.redirect("/admin/ui/flags?done=resolved", 303);
});

consoleRoutes.get("/ui/products", async (c) => {
  const p = pageCtx(c);
  return page(c, <ProductsPage p={p} products={await listAllProducts(c.var.db)} notice={notice(c, p)} />);
});

/** The product form's fields as the JSON API's body (price typed in yuan → fen, never a float). */
function productFields(f: Record<string, string>) {
  const price = f.price === undefined ? undefined : (yuanToFen(f.price) ?? Number.NaN);
  const sort = f.sort === undefined || f.sort === "" ? undefined : Number(f.sort);
  return { name: f.name, description: f.description, price, sort, active: f.active === "1" };
}

async function productError(c: C, message: string) {
  const p = pageCtx(c);
  return page(c, <ProductsPage p={p} products={await listAllProducts(c.var.db)} error={message} />, 400);
}

consoleRoutes.post("/ui/products", async (c) => {
  const f = await form(c);
  const parsed = ProductCreate.safeParse({ ...productFields(f), ...(f.id ? { id: f.id } : {}) });
  if (!parsed.success) return productError(c, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const { id, ...fields } = parsed.data;
  await createProduct(c.var.db, id ?? newId(c.var.deps.random, "prod"), fields, c.var.deps.clock.now());
  return c.redirect("/admin/ui/products?done=saved", 303);
});

consoleRoutes.post("/ui/products/:id", async (c) => {
  const parsed = ProductPatch.safeParse(productFields(await form(c)));
  if (!parsed.success) return productError(c, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const product = await updateProduct(c.var.db, c.req.param("id"), parsed.data, c.var.deps.clock.now());
  c.var.log.info("product changed", { productId: product.id, price: product.price, active: product.active, via: "console" });
  return c.redirect("/admin/ui/products?done=saved", 303);
});

consoleRoutes.get("/ui/reconcile", async (c) => {
  const p = pageCtx(c);
  const cursor = Number(c.req.query("cursor"));
  const r = await listRuns(c.var.db, { limit: 30, cursor: Number.isSafeInteger(cursor) && cursor > 0 ? cursor : undefined });
  return page(c, <RunsPage p={p} runs={r.runs} nextCursor={r.nextCursor} notice={notice(c, p)} />);
});

consoleRoutes.post("/ui/reconcile", async (c) => {
  await runReconciliation(c.env, c.var.deps, { trigger: "admin" });
  return c.redirect("/admin/ui/reconcile?done=ran", 303);
});

consoleRoutes.get("/ui/bills", async (c) => {
  const p = pageCtx(c);
  const asked = c.req.query("date");
  const date = asked && shanghaiDayBounds(asked) ? asked : shanghaiDate(c.var.deps.clock.now() - 86_400_000);
  const [check, diffs, dates] = await Promise.all([billCheckOf(c.var, date), billDiffsForDate(c.var.db, date), checkedBillDates(c.var.db)]);
  return page(c, <BillsPage p={p} date={date} check={check} diffs={diffs} dates={dates} notice={notice(c, p)} />);
});

consoleRoutes.post("/ui/bills", async (c) => {
  const date = (await form(c)).date ?? "";
  if (!shanghaiDayBounds(date)) throw new AppError("invalid_request", "date: YYYY-MM-DD");
  await runReconciliation(c.env, c.var.deps, { trigger: "admin", billDate: date });
  return c.redirect(`/admin/ui/bills?date=${date}&done=ran`, 303);
});

consoleRoutes.onError(async (err, c) => {
  const e = err instanceof AppError ? err : new AppError("internal_error", "something went wrong on our side; retry later", { cause: err });
  if (e.status >= 500) c.var.log.error("console request failed", { code: e.code, path: c.req.path, cause: err instanceof Error ? err.message.slice(0, 300) : String(err) });
  else c.var.log.info("console request rejected", { code: e.code, status: e.status, path: c.req.path });
  if (e.retryAfter !== undefined) c.header("Retry-After", String(Math.max(1, Math.ceil(e.retryAfter))));
  const p = pageCtx(c);
  const status = e.status as 400 | 401 | 403 | 404 | 409 | 429 | 500 | 502;
  if (c.req.path === "/admin/session") {
    return page(c, <SignInPage p={p} error={e.code === "rate_limited" ? p.t("tooMany") : e.code === "unauthorized" ? p.t("wrongToken") : e.message} />, status);
  }
  const message = e.code === "forbidden" ? `${p.t("forbidden")}: ${e.message}` : e.code === "not_found" ? p.t("notFound") : e.message;
  return page(c, <ErrorPage p={p} message={message} />, status);
});

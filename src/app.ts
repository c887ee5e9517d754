/**
 * @module app — the Hono app: request id, dependencies, configuration, body limit, routes and
 * the one error handler. Built by `createApp(deps)` so tests inject the clock, randomness and
 * outbound fetch; `src/index.ts` builds it once per isolate with the real ones.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { getConfig, LOCAL_HOSTS } from "./config";
import type { AppDeps, AppEnv, Db } from "./context";
import * as schema from "./db/schema";
import { AppError, NotifyFailure, notifyFailure, toErrorResponse } from "./errors";
import { newId } from "./lib/random";
import { validationHook } from "./routes/validation";
import { registerRoutes } from "./routes";
import { NOTIFY_PATH } from "./routes/notify";
import { apiHeaders } from "./routes/security";

/** Largest request body we read (JSON API and notifications alike). WeChat notifications are ~1–2 KB. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Paths that answer without configuration (so a misconfigured Worker still reports health/docs). */
const CONFIG_FREE = new Set(["/healthz", "/openapi.json", "/docs"]);

/**
 * One drizzle handle per D1 binding: `drizzle(db, { schema })` walks the whole schema to build
 * its relational config (~4 % of a simple read's CPU when done per request, measured by the
 * bench); the binding is the same object for every request of an isolate.
 */
const handles = new WeakMap<D1Database, Db>();
function dbFor(d1: D1Database): Db {
  let db = handles.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    handles.set(d1, db);
  }
  return db;
}

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use("*", async (c, next) => {
    const requestId = newId(deps.random, "req");
    c.set("requestId", requestId);
    c.set("deps", deps);
    c.set("log", deps.logger.with({ requestId }));
    c.set("db", dbFor(c.env.DB));
    // Set before the handler so the response it builds carries it (setting it afterwards makes
    // Hono copy the finished Response); error answers set it themselves (errors.ts).
    c.header("X-Request-Id", requestId);
    apiHeaders(c);
    if (!CONFIG_FREE.has(c.req.path)) {
      const config = getConfig(c.env);
      if (config.notifyUrlLocal) refuseLocalNotifyUrlFromOutside(c.req.url);
      c.set("config", config);
    }
    await next();
    if (!c.res.headers.has("X-Request-Id")) c.header("X-Request-Id", requestId);
  });

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new AppError("payload_too_large", `request body is larger than ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  registerRoutes(app);

  let routeTable: RouteTable | null = null;
  app.notFound((c) => {
    // A path we serve with other methods is 405 with Allow (RFC 9110 §15.5.6), not 404.
    const allow = allowedMethods((routeTable ??= routeTableOf(app.routes)), c.req.path);
    if (allow.length > 0 && !allow.includes(c.req.method)) throw new MethodNotAllowed(c.req.method, allow);
    throw new AppError("not_found", `no route for ${c.req.method} ${c.req.path}`);
  });

  app.onError((err, c) => {
    const requestId = c.get("requestId") ?? "req_unknown";
    const log = c.get("log") ?? deps.logger.with({ requestId });
    // WeChat reads only the status; every failure on the notify path has its FAIL shape.
    if (c.req.path === NOTIFY_PATH && !(err instanceof NotifyFailure)) {
      const e = toAppError(err);
      err = new NotifyFailure(e.status === 413 ? 400 : e.status >= 500 ? 500 : 400, e.message, { cause: err });
    }
    if (err instanceof NotifyFailure) {
      log.warn("notify rejected", { status: err.status, reason: err.message, cause: err.cause });
      return notifyFailure(err, requestId);
    }
    const appErr = toAppError(err);
    if (appErr.status >= 500) {
      log.error("request failed", {
        code: appErr.code,
        reason: appErr.message,
        method: c.req.method,
        path: c.req.path,
        // The logger writes an error as name, message and a bounded cause chain (lib/log.ts).
        cause: appErr === err ? appErr.cause : err,
        ...appErr.logFields,
      });
    } else {
      log.info("request rejected", { code: appErr.code, status: appErr.status, path: c.req.path });
    }
    const res = toErrorResponse(appErr, requestId);
    if (appErr instanceof MethodNotAllowed) res.headers.set("allow", appErr.allow.join(", "));
    return res;
  });

  return app;
}

export type App = ReturnType<typeof createApp>;

class MethodNotAllowed extends AppError {
  constructor(
    method: string,
    readonly allow: readonly string[],
  ) {
    super("method_not_allowed", `${method} is not allowed here; use ${allow.join(" or ")}`);
  }
}

/** Each route's method and a matcher for its path (middleware, registered for every method, left out). */
type RouteTable = { method: string; pattern: RegExp }[];

function routeTableOf(routes: readonly { method: string; path: string }[]): RouteTable {
  const table: RouteTable = [];
  for (const r of routes) {
    if (r.method === "ALL" || r.path.includes("*")) continue;
    const source = r.path
      .split("/")
      .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    table.push({ method: r.method, pattern: new RegExp(`^${source}$`) });
  }
  return table;
}

function allowedMethods(table: RouteTable, path: string): string[] {
  const methods = new Set<string>();
  for (const r of table) if (r.pattern.test(path)) methods.add(r.method);
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    // Hono's own validators: malformed JSON (400) and a wrong content type (415).
    if (err.status === 415) return new AppError("unsupported_media_type", "send the body as application/json");
    if (err.status === 413) return new AppError("payload_too_large", `request body is larger than ${MAX_BODY_BYTES} bytes`);
    if (err.status === 400) return new AppError("invalid_request", "the body is not valid JSON");
    if (err.status === 401) return new AppError("unauthorized", "missing or invalid credentials");
    if (err.status === 404) return new AppError("not_found", "not found");
    if (err.status === 405) return new AppError("method_not_allowed", "method not allowed");
  }
  return new AppError("internal_error", "something went wrong on our side; retry later", { cause: err });
}

/**
 * A localhost WXPAY_NOTIFY_URL is a development value: WeChat could never deliver to it. Deployed
 * by mistake, every payment would wait for the reconciler; so a request that did not itself
 * arrive on localhost is answered `misconfigured` (SPEC §11) instead of prepaying with it.
 */
function refuseLocalNotifyUrlFromOutside(requestUrl: string): void {
  const host = new URL(requestUrl).hostname;
  if (!LOCAL_HOSTS.has(host)) {
    throw new AppError("misconfigured", `WXPAY_NOTIFY_URL: points at localhost but this request arrived at ${host}; set the public https URL of POST /v1/pay/notify`);
  }
}

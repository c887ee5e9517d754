/**
 * @module routes — mounts every route module on the app. One line per module; each module owns
 * its paths, schemas and handlers.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { healthRoutes } from "./health";
import { authRoutes } from "./auth";
import { productRoutes } from "./products";
import { orderRoutes } from "./orders";
import { registerDocs } from "./docs";
import { notifyRoutes } from "./notify";
import { adminRoutes } from "./admin";
import { pushRoutes } from "./push";
import { userRoutes } from "./users";
import { adminConsoleRoutes } from "./admin-console";
import { consoleRoutes } from "../console/routes";
import { documentConsole } from "../console/openapi";
import { shippingRoutes } from "./shipping";

export function registerRoutes(app: OpenAPIHono<AppEnv>): void {
  app.route("/", healthRoutes);
  app.route("/", authRoutes);
  app.route("/", productRoutes);
  app.route("/", orderRoutes);
  app.route("/", userRoutes);
  app.route("/", shippingRoutes);
  app.route("/", notifyRoutes);
  app.route("/", adminRoutes);
  app.route("/", pushRoutes);
  app.route("/", adminConsoleRoutes);
  app.route("/admin", consoleRoutes);
  documentConsole(app);
  registerDocs(app);
}

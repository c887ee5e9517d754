/**
 * @module routes/security — response headers that limit what a browser does with our answers
 * (SPEC §11 "HTTP hardening").
 *
 * `secureHtml` is THE middleware for every HTML page (`/docs`, the operator console): a fresh
 * CSP nonce per response (read it with `cspNonce(c)` and put it on each `<script>`/`<style>`),
 * a policy that allows nothing else — no inline script without the nonce, no other origin,
 * no framing — plus `nosniff` and `no-store`. `apiHeaders` marks every other answer `nosniff`
 * and, but for the public catalogue and health, `no-store`: they carry tokens, orders, users.
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { toBase64 } from "../lib/encoding";

/** The policy of an HTML page whose scripts and styles carry `nonce`. */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export const secureHtml = createMiddleware<AppEnv>(async (c, next) => {
  const nonce = toBase64(c.var.deps.random.bytes(16));
  c.set("cspNonce", nonce);
  c.header("Content-Security-Policy", contentSecurityPolicy(nonce));
  c.header("X-Content-Type-Options", "nosniff");
  // For browsers that predate frame-ancestors.
  c.header("X-Frame-Options", "DENY");
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cache-Control", "no-store");
  await next();
});

/** The nonce `secureHtml` put in this response's CSP. */
export function cspNonce(c: Context<AppEnv>): string {
  const nonce = c.get("cspNonce");
  if (!nonce) throw new Error("cspNonce: the route is not behind secureHtml");
  return nonce;
}

/** API answers that may be cached: public, the same for everyone. */
const CACHEABLE = new Set(["/v1/products", "/healthz", "/openapi.json"]);

/** Set before the handler, so responses built with c.json carry them without a copy (app.ts). */
export function apiHeaders(c: Context<AppEnv>): void {
  c.header("X-Content-Type-Options", "nosniff");
  if (!CACHEABLE.has(c.req.path)) c.header("Cache-Control", "no-store");
}

/**
 * @module routes/notify — `POST /v1/pay/notify`, where WeChat Pay tells us about payments and
 * refunds (SPEC §3, WECHATPAY.md G). The raw body is read once and verified before anything
 * else; every delivery is verified, duplicates included. Answers: 204 (accepted, also for a
 * duplicate or a verified-but-flagged notification); 401 signature/timestamp/serial; 400
 * malformed; 500 our fault — each failure as `{"code":"FAIL","message":…}` so WeChat retries.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { NotifyFailure } from "../errors";
import { runClaimedFulfilment, runFulfilment } from "../fulfilment/runner";
import { handleNotification } from "../notifications/service";
import { createWechatPay, WechatPayError } from "../wechat/pay";

export const NOTIFY_PATH = "/v1/pay/notify";

const Fail = z.object({ code: z.literal("FAIL"), message: z.string() }).openapi("NotifyFailure");
const fail = (description: string) => ({ description, content: { "application/json": { schema: Fail } } });

const route = createRoute({
  method: "post",
  path: NOTIFY_PATH,
  tags: ["WeChat Pay"],
  summary: "WeChat Pay notifications (TRANSACTION.SUCCESS, REFUND.SUCCESS|ABNORMAL|CLOSED)",
  description:
    "Called by WeChat Pay, signed (Wechatpay-Timestamp/Nonce/Signature/Serial) and AES-256-GCM encrypted. " +
    "Verified over the raw body; applied exactly once.",
  responses: {
    204: { description: "accepted (also: already applied, or stored and flagged for attention)" },
    400: fail("malformed body, or a resource that does not decrypt or parse"),
    401: fail("signature, timestamp (±300 s) or serial did not verify"),
    500: fail("our fault (e.g. D1 unavailable); WeChat retries"),
  },
});

export const notifyRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { db, deps, config, log } = c.var;
  const rawBody = await c.req.text();
  const wechatPay = createWechatPay({ config, deps, db });
  let handled;
  try {
    const verified = await wechatPay.verifyNotification({ headers: c.req.raw.headers, rawBody });
    handled = await handleNotification({ db, deps, config }, verified);
    // A redelivery of something already applied is routine (WeChat retries until it sees our
    // 2xx): debug. Everything that changed or was flagged: one info line.
    log[handled.outcome === "duplicate" ? "debug" : "info"]("notification", {
      notificationId: verified.id,
      eventType: verified.event_type,
      serial: verified.serial,
      outcome: handled.outcome,
      orderId: handled.orderId,
      wechatRequestId: c.req.header("request-id") ?? null,
    });
  } catch (err) {
    if (err instanceof WechatPayError) throw new NotifyFailure(err.notifyStatus, err.message, { cause: err });
    throw new NotifyFailure(500, "could not record the notification; retry later", { cause: err });
  }
  // After the response: the fulfilment this delivery claimed in its own batch (no claim round
  // trip), or — if another runner already holds the outbox row — an attempt to claim it.
  const paidOrderId = handled.paidOrderId;
  if (paidOrderId) {
    const run = handled.fulfilment
      ? runClaimedFulfilment(db, deps, c.env, handled.fulfilment.order, handled.fulfilment.claim)
      : runFulfilment(db, deps, c.env, paidOrderId);
    c.executionCtx.waitUntil(run.catch((err) => log.error("fulfilment run crashed", { orderId: paidOrderId, error: String(err) })));
  }
  return c.body(null, 204);
});

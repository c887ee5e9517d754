/**
 * @module routes/push — `GET|POST /v1/wx/push`, the mini program's message push (SPEC §9,
 * WECHATPAY.md O). GET answers WeChat's URL verification; POST takes safe-mode pushes (JSON or
 * XML), stores each event once and answers `success` at once — the only slow work (a settlement's
 * get_order refresh) runs after the answer, well inside WeChat's 5 s.
 *
 * Refusals use the API's JSON error envelope: 401 `unauthorized` (a signature, the timestamp, a
 * plaintext push, another AppID), 400 `invalid_request` (verified but unreadable), 404
 * `not_found` while WX_PUSH_TOKEN/WX_PUSH_AES_KEY are unset. Nothing is stored by a refused push.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { PushConfig } from "../config";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { dispatchPushEvent } from "../push/dispatch";
import { toPushEvent } from "../push/event";
import { storePushEvent } from "../push/store";
import { PushError } from "../wechat/push/errors";
import { openPush, verifyPushUrl } from "../wechat/push/verify";
import { errorResponses } from "./schemas";

export const PUSH_PATH = "/v1/wx/push";

const text = (description: string, example: string) => ({
  description,
  content: { "text/plain": { schema: z.string().openapi({ example }) } },
});
const q = (description: string) => z.string().optional().openapi({ description });
const signed = {
  signature: q("sha1 over the sorted Token, timestamp and nonce (lowercase hex)"),
  timestamp: q("unix seconds; POST: within 300 s of our clock"),
  nonce: q("random string"),
};

const getRoute = createRoute({
  method: "get",
  path: PUSH_PATH,
  tags: ["WeChat message push"],
  summary: "URL verification (消息推送配置 → 提交)",
  description: "Called by WeChat when the push URL is saved: answers `echostr` verbatim when `signature` verifies.",
  request: { query: z.object({ ...signed, echostr: q("echoed back verbatim") }) },
  responses: {
    200: text("echostr, verbatim", "4375120948345356249"),
    ...errorResponses("invalid_request", "unauthorized", "not_found"),
  },
});

const SafeBody = z
  .object({ ToUserName: z.string().openapi({ example: "gh_97417a04a28d" }), Encrypt: z.string().openapi({ description: "base64 AES-256-CBC ciphertext" }) })
  .openapi("WxPushSafeModeBody");

const postRoute = createRoute({
  method: "post",
  path: PUSH_PATH,
  tags: ["WeChat message push"],
  summary: "Safe-mode message push (trade_manage_order_settlement, trade_manage_remind_shipping, wxa_trade_controlled, …)",
  description:
    "Called by WeChat, safe mode (安全模式) only, JSON or XML (`<xml><ToUserName/><Encrypt/></xml>`). `msg_signature` is verified " +
    "before decrypting, the timestamp must be within 300 s, the decrypted message's trailing AppID must be ours. Each event is " +
    "stored once (by event, transaction and CreateTime) and answered `success`.",
  request: {
    query: z.object({
      ...signed,
      msg_signature: q("sha1 over the sorted Token, timestamp, nonce and Encrypt"),
      encrypt_type: q("aes"),
      openid: q("ignored"),
    }),
    body: { content: { "application/json": { schema: SafeBody }, "text/xml": { schema: z.string() } } },
  },
  responses: {
    200: text("stored (or already stored)", "success"),
    ...errorResponses("invalid_request", "unauthorized", "not_found", "payload_too_large"),
  },
});

function pushConfig(c: Context<AppEnv>): PushConfig {
  const push = c.var.config.push;
  if (!push) throw new AppError("not_found", "message push is not configured: set WX_PUSH_TOKEN and WX_PUSH_AES_KEY");
  return push;
}

/** A refused push: one line naming the failed check (never the Token, a key or a body), then the error envelope. */
function refused(c: Context<AppEnv>, err: unknown): never {
  if (!(err instanceof PushError)) throw err;
  c.var.log.info("push refused", { check: err.code, status: err.status, method: c.req.method });
  throw new AppError(err.status === 401 ? "unauthorized" : "invalid_request", err.message, { cause: err });
}

const textHeaders = { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" };

export const pushRoutes = new OpenAPIHono<AppEnv>();
pushRoutes.openAPIRegistry.registerPath(getRoute);
pushRoutes.openAPIRegistry.registerPath(postRoute);

pushRoutes.get(PUSH_PATH, async (c) => {
  const { token } = pushConfig(c);
  const echostr = await verifyPushUrl(c.req.query(), token).catch((e: unknown) => refused(c, e));
  return c.body(echostr, 200, textHeaders);
});

pushRoutes.post(PUSH_PATH, async (c) => {
  const { db, deps, config, log } = c.var;
  const push = pushConfig(c);
  const rawBody = await c.req.text();
  let opened;
  let ev;
  try {
    opened = await openPush({ query: c.req.query(), rawBody }, { token: push.token, aesKeys: push.aesKeys, appid: config.appid }, deps.clock);
    ev = toPushEvent(opened.message);
  } catch (e) {
    refused(c, e);
  }
  const stored = await storePushEvent(db, deps, ev, opened.format);
  const fields = { event: ev.event, pushEventId: stored?.id ?? null, orderId: stored?.orderId ?? null, transactionId: ev.transactionId, format: opened.format };
  if (opened.keyIndex > 0) log.warn("push decrypted with WX_PUSH_AES_KEY_PREVIOUS: finish the key rotation", { event: ev.event });
  // A retry of a stored push is routine (WeChat retries when slow): debug. A new event: one info line.
  log[stored ? "info" : "debug"]("push", { ...fields, outcome: stored ? "stored" : "duplicate" });
  if (stored && ev.needsDispatch) {
    const run = dispatchPushEvent({ db, deps, config, log }, ev, stored);
    c.executionCtx.waitUntil(run.catch((err) => log.error("push dispatch crashed", { pushEventId: stored.id, error: String(err) })));
  }
  return c.body("success", 200, textHeaders);
});

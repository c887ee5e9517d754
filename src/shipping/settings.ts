/**
 * @module shipping/settings — account-level shipping settings kept in `kv`: whether shipping must
 * be uploaded (`WX_TRADE_MANAGED`; `auto` asks `is_trade_managed` once a day, WECHATPAY.md N.8)
 * and the message jump path last applied (`WX_ORDER_JUMP_PATH`, `set_msg_jump_path`, N.7).
 */
import { createServerApi } from "../wechat/server/client";
import { isTradeManaged, setMsgJumpPath } from "../wechat/server/shipping";
import type { ShippingContext } from "./service";

export const TRADE_MANAGED_TTL_MS = 24 * 3600_000;

const key = {
  managed: (appid: string) => `wechat:trade_managed:${appid}`,
  jumpPath: (appid: string) => `wechat:msg_jump_path:${appid}`,
};

const UPSERT =
  "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

async function read(d1: D1Database, k: string): Promise<{ value: string; updatedAt: number } | null> {
  return d1.prepare('SELECT value, updated_at AS "updatedAt" FROM kv WHERE key = ?').bind(k).first();
}

/**
 * Whether uploads are required: the configuration, or with `auto` the last daily answer of
 * is_trade_managed. Never asked yet (or unreadable): required — an unshipped payment's money
 * stays frozen, so the safe guess is to upload.
 */
export async function shippingRequired(ctx: ShippingContext): Promise<boolean> {
  if (ctx.config.tradeManaged !== "auto") return ctx.config.tradeManaged === "true";
  const row = await read(ctx.d1, key.managed(ctx.config.appid)).catch(() => null);
  return row ? row.value !== "false" : true;
}

/** `auto`: asks is_trade_managed when the stored answer is older than a day. Returns whether it asked. */
export async function refreshTradeManaged(ctx: ShippingContext): Promise<boolean> {
  if (ctx.config.tradeManaged !== "auto") return false;
  const now = ctx.deps.clock.now();
  const row = await read(ctx.d1, key.managed(ctx.config.appid));
  if (row && now - row.updatedAt < TRADE_MANAGED_TTL_MS) return false;
  const managed = await isTradeManaged(ctx.api ?? createServerApi(ctx), ctx.config.appid);
  await ctx.d1.prepare(UPSERT).bind(key.managed(ctx.config.appid), String(managed), now).run();
  ctx.log.info("is_trade_managed", { managed });
  return true;
}

/** Applies WX_ORDER_JUMP_PATH when it differs from the one last applied. Returns whether it called WeChat. */
export async function applyJumpPath(ctx: ShippingContext): Promise<boolean> {
  const path = ctx.config.orderJumpPath;
  if (path === null) return false;
  const row = await read(ctx.d1, key.jumpPath(ctx.config.appid));
  if (row?.value === path) return false;
  await setMsgJumpPath(ctx.api ?? createServerApi(ctx), path);
  await ctx.d1.prepare(UPSERT).bind(key.jumpPath(ctx.config.appid), path, ctx.deps.clock.now()).run();
  ctx.log.info("set_msg_jump_path applied", { path });
  return true;
}

/**
 * @module test/simulator/pay — JSAPI prepay (WECHATPAY.md D), query and close (F), and the WeChat
 * client's side of `wx.requestPayment` (E): the "user pays" that verifies paySign, marks the order
 * paid and queues the TRANSACTION.SUCCESS notification (G.1).
 *
 * Choices where WeChat's behaviour is not confirmed (D.4, F.3 ⚠):
 * - prepay for a paid order → 400 ORDER_PAID; for a closed one → 400 ORDER_CLOSED; for an
 *   unpaid order past its time_expire → 400 ORDER_CLOSED ("订单已过期"). The state is checked before
 *   the parameters, so these win over OUT_TRADE_NO_USED.
 * - identical parameters → the newest prepay_id while it is younger than 2 h, else a new one.
 * - close of a paid order → 400 ORDER_PAID; of a closed order → 400 ORDER_CLOSED (F.3: "treat it as
 *   success"), or 204 with the option `closeClosed: "204"`.
 * - an expired unpaid order keeps trade_state NOTPAY until the merchant closes it.
 */
import type { Hono } from "hono";
import { answer, apiError, jsonBody, type ApiError, type SimEnv } from "./auth";
import type { SimContext } from "./context";
import { rsaVerify } from "./crypto";
import { parseRfc3339, rfc3339Cst } from "./time";
import type { PayResult, RequestPaymentParams, SimTransaction } from "./types";

export const PREPAY_TTL_MS = 2 * 3600_000;
const DEFAULT_EXPIRY_MS = 7 * 24 * 3600_000;
const MIN_EXPIRY_MS = 60_000;
const MAX_EXPIRY_MS = 90 * 24 * 3600_000;
const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;

type Outcome = ApiError | { status: number; body?: unknown };

const paramError = (field: string, issue: string, value?: unknown): ApiError =>
  apiError(400, "PARAM_ERROR", `参数错误: ${field} ${issue}`, {
    field,
    location: "body",
    issue,
    ...(value !== undefined ? { value } : {}),
  });

/** Canonical JSON (sorted keys) so that key order never makes two identical requests differ. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/** notify_url rule (D.1): https, no query; plain http only for localhost/127.0.0.1 (local dev). */
export function checkNotifyUrl(u: unknown, field = "notify_url"): ApiError | null {
  if (typeof u !== "string" || u.length < 8 || u.length > 255) return paramError(field, "must be a URL of 8-255 characters", u);
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return paramError(field, "is not a URL", u);
  }
  const local = url.hostname === "localhost" || url.hostname === "127.0.0.1";
  if (!(url.protocol === "https:" || (url.protocol === "http:" && local))) return paramError(field, "must be https", u);
  if (u.includes("?") || url.hash) return paramError(field, "must not carry a query string", u);
  return null;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

export function tradeState(sim: SimContext, tx: SimTransaction): "NOTPAY" | "SUCCESS" | "CLOSED" | "REFUND" {
  if (tx.state !== "SUCCESS") return tx.state;
  for (const r of sim.state.refunds.values()) {
    if (r.outTradeNo === tx.outTradeNo && r.status !== "CLOSED") return "REFUND";
  }
  return "SUCCESS";
}

const STATE_DESC = { SUCCESS: "支付成功", NOTPAY: "订单未支付", CLOSED: "订单已关闭", REFUND: "订单发生过退款" };

/** The APIv3 Transaction (F.2) as query answers and notifications carry it. */
export function transactionView(sim: SimContext, tx: SimTransaction): Record<string, unknown> {
  const state = tradeState(sim, tx);
  const paid = tx.state === "SUCCESS";
  const view: Record<string, unknown> = {
    appid: tx.appid,
    mchid: tx.mchid,
    out_trade_no: tx.outTradeNo,
  };
  if (paid) view.transaction_id = tx.transactionId;
  view.trade_type = "JSAPI";
  view.trade_state = state;
  view.trade_state_desc = STATE_DESC[state];
  if (paid) view.bank_type = "OTHERS";
  if (tx.attach !== undefined) view.attach = tx.attach;
  if (paid) view.success_time = rfc3339Cst(tx.successTime!);
  view.payer = { openid: tx.openid };
  view.amount = paid
    ? { total: tx.total, payer_total: tx.total, currency: tx.currency, payer_currency: tx.currency }
    : { total: tx.total, currency: tx.currency, payer_currency: tx.currency };
  return view;
}

function validatePrepay(sim: SimContext, b: Record<string, unknown>): ApiError | null {
  for (const f of ["appid", "mchid", "description", "out_trade_no", "notify_url"]) {
    if (typeof b[f] !== "string") return paramError(f, "is required (string)");
  }
  if (b.appid !== sim.opts.appid) return apiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
  if (b.mchid !== sim.opts.mchid) return apiError(400, "PARAM_ERROR", "请求头与请求体中的商户号不一致", { field: "mchid" });
  const desc = b.description as string;
  if ([...desc].length < 1 || [...desc].length > 127) return paramError("description", "must be 1-127 characters");
  if (!OUT_TRADE_NO.test(b.out_trade_no as string)) {
    return paramError("out_trade_no", "must be 6-32 characters of [0-9A-Za-z_-|*]", b.out_trade_no);
  }
  if (b.time_expire !== undefined && (typeof b.time_expire !== "string" || parseRfc3339(b.time_expire) === null)) {
    return paramError("time_expire", "must be an RFC3339 date-time", b.time_expire);
  }
  if (b.attach !== undefined && (typeof b.attach !== "string" || b.attach.length > 128)) {
    return paramError("attach", "must be a string of at most 128 characters");
  }
  const bad = checkNotifyUrl(b.notify_url);
  if (bad) return bad;
  const amount = b.amount;
  if (!isObj(amount)) return paramError("amount", "is required");
  if (typeof amount.total !== "number" || !Number.isInteger(amount.total) || amount.total <= 0) {
    return paramError("amount.total", "must be a positive integer (fen)", amount.total);
  }
  if (amount.currency !== undefined && amount.currency !== "CNY") return paramError("amount.currency", "must be CNY", amount.currency);
  const payer = b.payer;
  if (!isObj(payer) || typeof payer.openid !== "string" || payer.openid === "") return paramError("payer.openid", "is required");
  if (!sim.opts.acceptAnyOpenid && !sim.state.users.has(payer.openid)) {
    return apiError(400, "PARAM_ERROR", "openid与appid不匹配", { field: "payer.openid", location: "body" });
  }
  return null;
}

export function prepay(sim: SimContext, b: Record<string, unknown>): Outcome {
  const invalid = validatePrepay(sim, b);
  if (invalid) return invalid;
  const now = sim.clock.now();
  const amount = b.amount as { total: number; currency?: string };
  const params = canonical({ ...b, amount: { ...amount, currency: amount.currency ?? "CNY" } });
  const outTradeNo = b.out_trade_no as string;
  let tx = sim.state.transactions.get(outTradeNo);
  if (tx) {
    if (tx.state === "SUCCESS") return apiError(400, "ORDER_PAID", "该订单已支付");
    if (tx.state === "CLOSED") return apiError(400, "ORDER_CLOSED", "订单已关闭");
    if (tx.params !== params) return apiError(403, "OUT_TRADE_NO_USED", "商户订单号重复");
    if (now >= tx.expiresAt) return apiError(400, "ORDER_CLOSED", "订单已过期");
    const last = tx.prepayIds[tx.prepayIds.length - 1]!;
    if (now - sim.state.prepays.get(last)!.createdAt < PREPAY_TTL_MS) return { status: 200, body: { prepay_id: last } };
  } else {
    const requested = b.time_expire ? parseRfc3339(b.time_expire as string)! : now + DEFAULT_EXPIRY_MS;
    const expiresAt = Math.min(Math.max(requested, now + MIN_EXPIRY_MS), now + MAX_EXPIRY_MS);
    tx = {
      appid: b.appid as string,
      mchid: b.mchid as string,
      outTradeNo,
      description: b.description as string,
      ...(b.attach !== undefined ? { attach: b.attach as string } : {}),
      notifyUrl: b.notify_url as string,
      ...(b.time_expire !== undefined ? { timeExpire: b.time_expire as string } : {}),
      expiresAt,
      total: amount.total,
      currency: "CNY",
      openid: (b.payer as { openid: string }).openid,
      params,
      state: "NOTPAY",
      createdAt: now,
      prepayIds: [],
    };
    sim.state.transactions.set(outTradeNo, tx);
  }
  const prepayId = sim.prepayId();
  sim.state.prepays.set(prepayId, { outTradeNo, createdAt: now });
  tx.prepayIds.push(prepayId);
  return { status: 200, body: { prepay_id: prepayId } };
}

function close(sim: SimContext, outTradeNo: string, b: Record<string, unknown>): Outcome {
  if (typeof b.mchid !== "string") return paramError("mchid", "is required");
  if (b.mchid !== sim.opts.mchid) return apiError(400, "PARAM_ERROR", "请求头与请求体中的商户号不一致", { field: "mchid" });
  const tx = sim.state.transactions.get(outTradeNo);
  if (!tx) return apiError(404, "ORDER_NOT_EXIST", "订单不存在");
  if (tx.state === "SUCCESS") return apiError(400, "ORDER_PAID", "订单已支付");
  if (tx.state === "CLOSED") {
    return sim.opts.closeClosed === "204" ? { status: 204 } : apiError(400, "ORDER_CLOSED", "订单已关闭");
  }
  tx.state = "CLOSED";
  tx.closedAt = sim.clock.now();
  return { status: 204 };
}

function queryMchid(sim: SimContext, url: string): ApiError | null {
  const mchid = new URL(url).searchParams.get("mchid");
  if (!mchid) return apiError(400, "PARAM_ERROR", "参数错误: mchid is required", { field: "mchid", location: "query" });
  if (mchid !== sim.opts.mchid) return apiError(400, "PARAM_ERROR", "请求头与请求参数中的商户号不一致", { field: "mchid" });
  return null;
}

export function registerPay(app: Hono<SimEnv>, sim: SimContext): void {
  app.post("/v3/pay/transactions/jsapi", async (c) => {
    const b = await jsonBody(sim, c);
    return answer(sim, c.req.raw, "code" in b ? (b as ApiError) : prepay(sim, b));
  });
  app.get("/v3/pay/transactions/out-trade-no/:no", async (c) => {
    const bad = queryMchid(sim, c.req.url);
    if (bad) return answer(sim, c.req.raw, bad);
    const tx = sim.state.transactions.get(c.req.param("no"));
    if (!tx) return answer(sim, c.req.raw, apiError(404, "ORDER_NOT_EXIST", "订单不存在"));
    return answer(sim, c.req.raw, { status: 200, body: transactionView(sim, tx) });
  });
  app.get("/v3/pay/transactions/id/:id", async (c) => {
    const bad = queryMchid(sim, c.req.url);
    if (bad) return answer(sim, c.req.raw, bad);
    const id = c.req.param("id");
    const tx = [...sim.state.transactions.values()].find((t) => t.transactionId === id);
    if (!tx) return answer(sim, c.req.raw, apiError(404, "ORDER_NOT_EXIST", "订单不存在"));
    return answer(sim, c.req.raw, { status: 200, body: transactionView(sim, tx) });
  });
  app.post("/v3/pay/transactions/out-trade-no/:no/close", async (c) => {
    const b = await jsonBody(sim, c);
    return answer(sim, c.req.raw, "code" in b ? (b as ApiError) : close(sim, c.req.param("no"), b));
  });
}

const fail = (why: string): PayResult => ({ ok: false, errMsg: `requestPayment:fail ${why}` });

/**
 * The WeChat client paying (E): paySign must verify exactly like wx.requestPayment does — RSA-SHA256
 * over `APPID\ntimeStamp\nnonceStr\npackage\n` with the merchant's public key, timeStamp a 10-digit
 * string, signType "RSA" — for a known prepay_id younger than 2 h and an order still payable.
 */
export async function pay(sim: SimContext, params: RequestPaymentParams, user: { openid?: string } = {}): Promise<PayResult> {
  const p = (params ?? {}) as unknown as Record<string, unknown>;
  for (const f of ["timeStamp", "nonceStr", "package", "signType", "paySign"]) {
    if (typeof p[f] !== "string") return fail(`parameter ${f} must be a string`);
  }
  if (!/^\d{10}$/.test(params.timeStamp)) return fail("timeStamp must be 10 digits (seconds)");
  if (params.nonceStr.length < 1 || params.nonceStr.length > 32) return fail("nonceStr must be 1-32 characters");
  if (params.signType !== "RSA") return fail("signType must be RSA");
  const m = /^prepay_id=(.+)$/.exec(params.package);
  if (!m) return fail("package must be prepay_id=…");
  const message = `${sim.opts.appid}\n${params.timeStamp}\n${params.nonceStr}\n${params.package}\n`;
  if (!(await rsaVerify(await sim.merchantKey, message, params.paySign))) return fail("支付验证签名失败");
  const prepay = sim.state.prepays.get(m[1]!);
  if (!prepay) return fail("prepay_id 不存在");
  const now = sim.clock.now();
  if (now - prepay.createdAt >= PREPAY_TTL_MS) return fail("prepay_id 已过期");
  const tx = sim.state.transactions.get(prepay.outTradeNo)!;
  if (user.openid !== undefined && user.openid !== tx.openid) return fail("支付用户与下单用户不一致");
  if (tx.state === "SUCCESS") return fail("该订单已支付");
  if (tx.state === "CLOSED") return fail("订单已关闭");
  if (now >= tx.expiresAt) return fail("订单已过期");
  tx.state = "SUCCESS";
  tx.transactionId = sim.transactionId();
  tx.successTime = now;
  await sim.notifier.enqueue({
    eventType: "TRANSACTION.SUCCESS",
    summary: "支付成功",
    originalType: "transaction",
    resource: transactionView(sim, tx),
    url: tx.notifyUrl,
    outTradeNo: tx.outTradeNo,
  });
  return { ok: true, errMsg: "requestPayment:ok", transactionId: tx.transactionId, outTradeNo: tx.outTradeNo };
}

/** The user closes the payment sheet: nothing changes at WeChat. */
export function cancel(): PayResult {
  return { ok: false, errMsg: "requestPayment:fail cancel" };
}

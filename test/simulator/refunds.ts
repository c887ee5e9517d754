/**
 * @module test/simulator/refunds — domestic refunds (WECHATPAY.md H): create, query, settle, and the
 * REFUND.SUCCESS / ABNORMAL / CLOSED notifications whose decrypted resource uses `refund_status`
 * (H.4). Rules: exactly one of out_trade_no / transaction_id; the same out_refund_no returns the
 * same refund (refunds once); amount.total must equal the order total; refunds not CLOSED never
 * sum above the paid total (400 INVALID_REQUEST); at most 50 per order (H.3); the order must be
 * paid (404 RESOURCE_NOT_EXISTS also covers "unpaid", H.3). Not simulated: the 1-minute spacing
 * between refunds of one order and the one-year window.
 */
import type { Hono } from "hono";
import { answer, apiError, jsonBody, type ApiError, type SimEnv } from "./auth";
import type { SimContext } from "./context";
import { checkNotifyUrl } from "./pay";
import { rfc3339Cst } from "./time";
import type { RefundStatus, SimRefund } from "./types";

const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const MAX_REFUNDS = 50;

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
const param = (field: string, issue: string) =>
  apiError(400, "PARAM_ERROR", `参数错误: ${field} ${issue}`, { field, location: "body", issue });

/** The Refund object of create/query (H.1). */
export function refundView(r: SimRefund): Record<string, unknown> {
  const v: Record<string, unknown> = {
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    transaction_id: r.transactionId,
    out_trade_no: r.outTradeNo,
    channel: "ORIGINAL",
    user_received_account: "支付用户零钱",
  };
  if (r.successTime !== undefined) v.success_time = rfc3339Cst(r.successTime);
  v.create_time = rfc3339Cst(r.createdAt);
  v.status = r.status;
  v.funds_account = "AVAILABLE";
  v.amount = {
    total: r.total,
    refund: r.refund,
    from: [],
    payer_total: r.total,
    payer_refund: r.refund,
    settlement_refund: r.refund,
    settlement_total: r.total,
    discount_refund: 0,
    currency: r.currency,
    refund_fee: 0,
  };
  v.promotion_detail = [];
  return v;
}

/** The decrypted resource of a refund notification (H.4): `refund_status`, not `status`. */
function refundNotification(sim: SimContext, r: SimRefund): Record<string, unknown> {
  const v: Record<string, unknown> = {
    mchid: sim.opts.mchid,
    out_trade_no: r.outTradeNo,
    transaction_id: r.transactionId,
    out_refund_no: r.outRefundNo,
    refund_id: r.refundId,
    refund_status: r.status,
  };
  if (r.successTime !== undefined) v.success_time = rfc3339Cst(r.successTime);
  v.user_received_account = "支付用户零钱";
  v.amount = { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund };
  return v;
}

export function createRefund(sim: SimContext, b: Record<string, unknown>): ApiError | { status: number; body: unknown } {
  const hasNo = typeof b.out_trade_no === "string";
  const hasId = typeof b.transaction_id === "string";
  if (hasNo === hasId) return param("out_trade_no", "exactly one of out_trade_no and transaction_id is required");
  if (typeof b.out_refund_no !== "string" || !OUT_REFUND_NO.test(b.out_refund_no)) {
    return param("out_refund_no", "must be 1-64 characters of [0-9A-Za-z_-|*@]");
  }
  const existing = sim.state.refunds.get(b.out_refund_no);
  if (existing) return { status: 200, body: refundView(existing) };
  if (b.reason !== undefined && (typeof b.reason !== "string" || new TextEncoder().encode(b.reason).length > 80)) {
    return param("reason", "must be at most 80 bytes");
  }
  if (b.notify_url !== undefined) {
    const bad = checkNotifyUrl(b.notify_url);
    if (bad) return bad;
  }
  const a = b.amount;
  if (!isObj(a)) return param("amount", "is required");
  for (const f of ["refund", "total"] as const) {
    if (typeof a[f] !== "number" || !Number.isInteger(a[f]) || (a[f] as number) <= 0) {
      return param(`amount.${f}`, "must be a positive integer (fen)");
    }
  }
  if (a.currency !== "CNY") return param("amount.currency", "must be CNY");
  const tx = hasNo
    ? sim.state.transactions.get(b.out_trade_no as string)
    : [...sim.state.transactions.values()].find((t) => t.transactionId === b.transaction_id);
  if (!tx || tx.state !== "SUCCESS") return apiError(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付");
  if (a.total !== tx.total) return apiError(400, "INVALID_REQUEST", "订单金额与原订单金额不一致");
  const siblings = [...sim.state.refunds.values()].filter((r) => r.outTradeNo === tx.outTradeNo);
  if (siblings.length >= MAX_REFUNDS) return apiError(400, "INVALID_REQUEST", "退款次数超过限制（50次）");
  const refunded = siblings.filter((r) => r.status !== "CLOSED").reduce((s, r) => s + r.refund, 0);
  if (refunded + (a.refund as number) > tx.total) return apiError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额");
  const now = sim.clock.now();
  const auto = sim.opts.refundAutoSettleMs;
  const r: SimRefund = {
    refundId: sim.refundId(),
    outRefundNo: b.out_refund_no,
    outTradeNo: tx.outTradeNo,
    transactionId: tx.transactionId!,
    ...(typeof b.reason === "string" ? { reason: b.reason } : {}),
    notifyUrl: (b.notify_url as string | undefined) ?? tx.notifyUrl,
    refund: a.refund as number,
    total: tx.total,
    currency: "CNY",
    status: "PROCESSING",
    createdAt: now,
    ...(auto !== undefined && auto !== null ? { settleAt: now + auto } : {}),
  };
  sim.state.refunds.set(r.outRefundNo, r);
  if (r.settleAt !== undefined && sim.timeScale > 0) {
    setTimeout(() => void settleDueRefunds(sim, r.settleAt).catch(() => {}), (auto as number) * sim.timeScale);
  }
  return { status: 200, body: refundView(r) };
}

/**
 * Settles a refund (PROCESSING, or ABNORMAL being resolved) and queues its notification.
 * Throws when the refund is unknown or already final.
 */
export async function settleRefund(sim: SimContext, outRefundNo: string, status: Exclude<RefundStatus, "PROCESSING">): Promise<SimRefund> {
  const r = sim.state.refunds.get(outRefundNo);
  if (!r) throw new Error(`simulator: no refund ${outRefundNo}`);
  if (!["SUCCESS", "CLOSED", "ABNORMAL"].includes(status)) throw new Error(`simulator: bad refund status ${status}`);
  if (r.status !== "PROCESSING" && r.status !== "ABNORMAL") throw new Error(`simulator: refund ${outRefundNo} is already ${r.status}`);
  r.status = status;
  delete r.settleAt;
  if (status === "SUCCESS") r.successTime = sim.clock.now();
  const summary = { SUCCESS: "退款成功", ABNORMAL: "退款异常", CLOSED: "退款关闭" }[status];
  await sim.notifier.enqueue({
    eventType: `REFUND.${status}`,
    summary,
    originalType: "refund",
    resource: refundNotification(sim, r),
    url: r.notifyUrl,
    outTradeNo: r.outTradeNo,
    outRefundNo: r.outRefundNo,
  });
  return r;
}

/** Auto-settles (to SUCCESS) refunds whose `settleAt` has come, on the clock. */
export async function settleDueRefunds(sim: SimContext, upTo = sim.clock.now()): Promise<void> {
  const limit = Math.max(upTo ?? 0, sim.clock.now());
  for (const r of sim.state.refunds.values()) {
    if (r.status === "PROCESSING" && r.settleAt !== undefined && r.settleAt <= limit) await settleRefund(sim, r.outRefundNo, "SUCCESS");
  }
}

export function registerRefunds(app: Hono<SimEnv>, sim: SimContext): void {
  app.post("/v3/refund/domestic/refunds", async (c) => {
    const b = await jsonBody(sim, c);
    return answer(sim, c.req.raw, "code" in b ? (b as ApiError) : createRefund(sim, b));
  });
  app.get("/v3/refund/domestic/refunds/:no", async (c) => {
    await settleDueRefunds(sim);
    const r = sim.state.refunds.get(c.req.param("no"));
    if (!r) return answer(sim, c.req.raw, apiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在"));
    return answer(sim, c.req.raw, { status: 200, body: refundView(r) });
  });
}

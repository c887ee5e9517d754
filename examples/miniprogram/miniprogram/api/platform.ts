/**
 * The two WeChat client calls the payment flow needs, as promises: wx.login and
 * wx.requestPayment. With SIMULATOR_URL set (config.ts; only for WeChat DevTools against
 * `npm run dev`) they go to the WeChat simulator instead of real WeChat.
 */
import { SIMULATOR_URL } from "../config";
import type { RequestPayment } from "./types";

export interface PaymentResult {
  ok: boolean;
  /** The user closed the payment sheet ("requestPayment:fail cancel"). */
  cancelled: boolean;
  errMsg: string;
}

function simulator<T>(path: string, data: WechatMiniprogram.IAnyObject): Promise<{ status: number; data: T }> {
  return new Promise((resolve, reject) => {
    wx.request({
      url: `${(SIMULATOR_URL ?? "").replace(/\/+$/, "")}${path}`,
      method: "POST",
      data,
      header: { "content-type": "application/json" },
      success: (res) => resolve({ status: res.statusCode, data: res.data as T }),
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

/** A one-time login code for POST /v1/auth/login. */
export async function wxLoginCode(): Promise<string> {
  if (SIMULATOR_URL) {
    const r = await simulator<{ code?: string }>("/__sim/login-code", {});
    if (!r.data?.code) throw new Error(`simulator login-code: HTTP ${r.status}`);
    return r.data.code;
  }
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (res.code ? resolve(res.code) : reject(new Error(res.errMsg || "wx.login gave no code"))),
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

/**
 * Shows WeChat's payment sheet. Never rejects: the result only says what the client saw, and the
 * caller must ask the server (GET /v1/orders/:id?sync=true) what really happened.
 */
export async function requestPayment(payment: RequestPayment): Promise<PaymentResult> {
  const result = (errMsg: string, ok: boolean): PaymentResult => ({ ok, cancelled: /cancel/.test(errMsg), errMsg });
  if (SIMULATOR_URL) {
    try {
      const r = await simulator<{ ok?: boolean; errMsg?: string }>("/__sim/pay", { payment });
      return result(r.data?.errMsg ?? `requestPayment:fail HTTP ${r.status}`, r.data?.ok === true);
    } catch (e) {
      return result(`requestPayment:fail ${e instanceof Error ? e.message : String(e)}`, false);
    }
  }
  return new Promise((resolve) => {
    wx.requestPayment({
      timeStamp: payment.timeStamp,
      nonceStr: payment.nonceStr,
      package: payment.package,
      signType: payment.signType,
      paySign: payment.paySign,
      success: (res) => resolve(result(res.errMsg, true)),
      fail: (err) => resolve(result(err.errMsg, false)),
    });
  });
}

/**
 * @module wechat/pay/payment — the `wx.requestPayment` parameters for a prepay_id (WECHATPAY.md E).
 *
 * paySign is SHA256withRSA with the merchant private key over `appId\ntimeStamp\nnonceStr\npackage\n`
 * (every line ends in `\n`; signType is not signed). timeStamp is a 10-digit string of SECONDS:
 * a number or milliseconds is the classic "支付验证签名失败" (L.8). appId must be the order's appid.
 */
import type { Clock } from "../../lib/clock";
import { unixSeconds } from "../../lib/clock";
import type { Random } from "../../lib/random";
import { nonce32 } from "../../lib/random";
import type { RequestPaymentParams } from "./port";
import { sign } from "./signer";

/** E: the string paySign covers. */
export function buildPaySignMessage(appId: string, timeStamp: string, nonceStr: string, pkg: string): string {
  return `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`;
}

/** Pure: builds and signs the five fields from explicit inputs (vectors use this). */
export async function signRequestPayment(opts: {
  key: CryptoKey;
  appId: string;
  prepayId: string;
  timeStamp: string;
  nonceStr: string;
}): Promise<RequestPaymentParams> {
  if (!/^\d{10}$/.test(opts.timeStamp)) throw new TypeError("timeStamp must be 10 digits of Unix seconds");
  if (opts.prepayId === "") throw new TypeError("prepayId is empty");
  const pkg = `prepay_id=${opts.prepayId}`;
  const paySign = await sign(opts.key, buildPaySignMessage(opts.appId, opts.timeStamp, opts.nonceStr, pkg));
  return { timeStamp: opts.timeStamp, nonceStr: opts.nonceStr, package: pkg, signType: "RSA", paySign };
}

/** The parameters for now, with a fresh 32-character nonce. */
export function requestPaymentParams(opts: {
  key: CryptoKey;
  appId: string;
  prepayId: string;
  clock: Clock;
  random: Random;
}): Promise<RequestPaymentParams> {
  return signRequestPayment({
    key: opts.key,
    appId: opts.appId,
    prepayId: opts.prepayId,
    timeStamp: String(unixSeconds(opts.clock)),
    nonceStr: nonce32(opts.random),
  });
}

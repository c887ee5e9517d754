/**
 * @module wechat/pay/port — what the domain (orders, notifications, refunds, reconciliation)
 * sees of WeChat Pay APIv3. Wire-format field names are kept (snake_case) so nothing is lost in
 * translation; the adapter in `client.ts` implements this with signed, verified HTTP calls, and
 * the domain never calls `fetch` itself.
 *
 * Every method either returns a *verified* answer or throws a `WechatPayError`
 * (see `errors.ts`): an `ApiError` (WeChat answered non-2xx; definite), or an
 * `IndeterminateError` (timeout, network failure, 5xx/429 after retries, or a 2xx whose
 * signature did not verify — the call may or may not have taken effect).
 */

/** POST /v3/pay/transactions/jsapi body (WECHATPAY.md D.1). */
export interface JsapiPrepayRequest {
  appid: string;
  mchid: string;
  description: string;
  out_trade_no: string;
  time_expire: string;
  notify_url: string;
  amount: { total: number; currency: "CNY" };
  payer: { openid: string };
}

/** Transaction as returned by query and carried (decrypted) in TRANSACTION.SUCCESS (F.2). */
export interface Transaction {
  appid: string;
  mchid: string;
  out_trade_no: string;
  transaction_id?: string;
  trade_type?: string;
  trade_state: string;
  trade_state_desc?: string;
  bank_type?: string;
  attach?: string;
  success_time?: string;
  payer?: { openid?: string };
  amount?: { total?: number; payer_total?: number; currency?: string; payer_currency?: string };
}

/** POST /v3/refund/domestic/refunds body (H.1). Exactly one of out_trade_no / transaction_id. */
export interface RefundRequest {
  out_trade_no?: string;
  transaction_id?: string;
  out_refund_no: string;
  reason?: string;
  notify_url: string;
  amount: { refund: number; total: number; currency: "CNY" };
}

/** Refund as returned by create/query (H.1). Notifications carry `refund_status` instead of `status`. */
export interface RefundResource {
  refund_id?: string;
  out_refund_no: string;
  transaction_id?: string;
  out_trade_no?: string;
  channel?: string;
  user_received_account?: string;
  success_time?: string;
  create_time?: string;
  status: "SUCCESS" | "CLOSED" | "PROCESSING" | "ABNORMAL" | string;
  amount?: { total?: number; refund?: number; payer_total?: number; payer_refund?: number; currency?: string };
}

/** GET /v3/bill/tradebill answer (I.1). */
export interface TradeBillLink {
  hash_type: string;
  hash_value: string;
  download_url: string;
}

export interface WechatPayPort {
  /** Creates (or, with identical parameters, re-creates) the prepay order. */
  jsapiPrepay(body: JsapiPrepayRequest): Promise<{ prepay_id: string }>;
  queryByOutTradeNo(outTradeNo: string): Promise<Transaction>;
  /** 204 from WeChat. An `ApiError` with code ORDER_CLOSED means it already was closed. */
  closeOrder(outTradeNo: string): Promise<void>;
  createRefund(body: RefundRequest): Promise<RefundResource>;
  queryRefund(outRefundNo: string): Promise<RefundResource>;
  tradeBill(billDate: string, billType?: "ALL" | "SUCCESS" | "REFUND"): Promise<TradeBillLink>;
  /** Signed GET of a bill download URL; the answer is not signed: the caller checks the hash. */
  downloadBill(downloadUrl: string): Promise<Uint8Array>;
}

/** `wx.requestPayment` parameters: exactly these five fields (SPEC §3). */
export interface RequestPaymentParams {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: "RSA";
  paySign: string;
}

/** A notification that passed signature verification and was decrypted (G.1, H.4). */
export interface VerifiedNotification {
  id: string;
  create_time?: string;
  event_type: string;
  resource_type?: string;
  summary?: string;
  /** `Wechatpay-Serial` of the key that verified it. */
  serial: string;
  original_type?: string;
  /** The decrypted resource, parsed JSON (a Transaction or a refund notification). */
  resource: Record<string, unknown>;
}

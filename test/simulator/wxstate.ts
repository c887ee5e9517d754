/**
 * @module test/simulator/wxstate — the simulator's state for the mini-program server APIs
 * (WECHATPAY.md M, N, P): access tokens, shipping records, phone-number codes, and the
 * trade-management events it pushes. Part of `SimState`, so `reset()` forgets it too.
 */
export interface SimAccessToken {
  token: string;
  issuedAt: number;
  expiresAt: number;
  /** Invalidated early (force_refresh, or the invalidation control): answers 40001. */
  revoked: boolean;
}

export interface SimParcel {
  tracking_no?: string;
  express_company?: string;
  item_desc: string;
  contact?: { consignor_contact?: string; receiver_contact?: string };
  upload_time: number;
}

/** WeChat's shipping state of one payment (get_order, N.4). */
export interface SimShipping {
  transactionId: string;
  /** 1 awaiting shipment · 2 shipped · 3 receipt confirmed · 4 settled · 5 refunded · 6 confirmed, funds pending. */
  orderState: 1 | 2 | 3 | 4 | 5 | 6;
  deliveryMode: number | null;
  logisticsType: number | null;
  finishShipping: boolean;
  /** 0 not finished, 1 finished, 2 finished again after the one re-ship (N.2). */
  finishShippingCount: 0 | 1 | 2;
  shippingList: SimParcel[];
  /** The last accepted upload's canonical body (to spot "nothing changed", 10060023). */
  lastBody: string | null;
  lastUploadTime: string | null;
  uploads: number;
  shippedAt: number | null;
  confirmedAt: number | null;
  settledAt: number | null;
}

export interface SimPhoneCode {
  code: string;
  openid: string;
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
  createdAt: number;
  usedAt?: number;
}

/** A trade-management event (O.9), as pushed to the Worker. */
export type TradeEvent = Record<string, unknown> & { Event: string; CreateTime: number };

export interface WxServerState {
  tokens: SimAccessToken[];
  currentToken: string | null;
  tokenLifetimeS: number;
  stableTokenCalls: number;
  forceRefreshCalls: number;
  shipping: Map<string, SimShipping>;
  /** A payment is invisible to the shipping APIs for this long after it succeeds (10060001). */
  shippingVisibleAfterMs: number;
  msgJumpPath: string | null;
  tradeManaged: boolean;
  phoneCodes: Map<string, SimPhoneCode>;
  events: TradeEvent[];
}

export function emptyWxServerState(over: { tokenLifetimeS?: number; shippingVisibleAfterMs?: number; tradeManaged?: boolean } = {}): WxServerState {
  return {
    tokens: [],
    currentToken: null,
    tokenLifetimeS: over.tokenLifetimeS ?? 7200,
    stableTokenCalls: 0,
    forceRefreshCalls: 0,
    shipping: new Map(),
    shippingVisibleAfterMs: over.shippingVisibleAfterMs ?? 0,
    msgJumpPath: null,
    tradeManaged: over.tradeManaged ?? true,
    phoneCodes: new Map(),
    events: [],
  };
}

export const wxJson = (body: unknown) =>
  new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json; encoding=utf-8" } });

export const wxErr = (errcode: number, errmsg: string) => wxJson({ errcode, errmsg: `${errmsg} rid: sim-${errcode}` });

export const wxOk = (extra: Record<string, unknown> = {}) => wxJson({ errcode: 0, errmsg: "ok", ...extra });

/** The JSON object body of a server-API request, or null (WeChat answers 47001 data format error). */
export async function jsonBody(req: Request): Promise<Record<string, unknown> | null> {
  try {
    const v: unknown = JSON.parse(await req.text());
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

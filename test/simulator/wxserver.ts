/**
 * @module test/simulator/wxserver — the mini-program server APIs (WECHATPAY.md M, N, P, Q) wired
 * into the simulator: their routes, their `/__sim/wx/…` controls, and the programmatic handle
 * (`sim.wx`). Trade-management events are recorded in `events` and, when message push is
 * configured (`options.push`), sealed and pushed to the Worker's `/v1/wx/push` (push.ts).
 */
import type { Hono } from "hono";
import type { SimEnv } from "./auth";
import type { SimContext } from "./context";
import { mintPhoneCode, registerPhone } from "./phone";
import { registerSession, sealOpenData, type SealedOpenData } from "./session";
import { confirmReceipt, registerShipping, settle, shippingOf } from "./shipping";
import { expireAccessTokens, invalidateAccessTokens, registerTokens } from "./tokens";
import type { SimPhoneCode, SimShipping, TradeEvent } from "./wxstate";

export interface WxServerSimulator {
  /** stable_token calls so far (normal and force mode) and force-mode calls alone. */
  tokenStats(): { stableTokenCalls: number; forceRefreshCalls: number; issued: number };
  /** Every issued token answers 42001 from now on. */
  expireTokens(): void;
  /** Every issued token answers 40001 from now on (as after someone's force_refresh). */
  invalidateTokens(): void;
  /** Lifetime of tokens issued from now on (default 7200 s). */
  setTokenLifetime(seconds: number): void;
  /** A payment is invisible to the shipping APIs for `ms` after it succeeds (10060001). */
  setShippingVisibleAfter(ms: number): void;
  setTradeManaged(managed: boolean): void;
  /** WeChat's shipping record of a payment (creates the "awaiting shipment" one). */
  shipping(transactionId: string): SimShipping | undefined;
  confirmReceipt(transactionId: string, opts?: { method?: 1 | 2; pendingFunds?: boolean }): Promise<SimShipping>;
  settle(transactionId: string): Promise<SimShipping>;
  readonly msgJumpPath: string | null;
  /** What the getPhoneNumber button gives a user. */
  mintPhoneCode(user: { openid: string; purePhoneNumber?: string; countryCode?: string }): SimPhoneCode;
  /**
   * What wx.getWeRunData / wx.getShareInfo give a user now: `data` + watermark `{timestamp, appid}`
   * (appid: ours unless given), encrypted with the user's current session_key (the latest wx.login's).
   */
  openData(o: { openid: string; data: Record<string, unknown>; appid?: string }): Promise<SealedOpenData>;
  /** Trade-management events pushed so far. */
  readonly events: TradeEvent[];
}

export function registerWxServer(app: Hono<SimEnv>, sim: SimContext): WxServerSimulator {
  const push = async (e: TradeEvent) => {
    sim.state.wx.events.push(e);
    if (!sim.opts.push) return;
    // The pusher fills the common fields (ToUserName, FromUserName, CreateTime, MsgType).
    const { ToUserName: _to, FromUserName: _from, MsgType: _type, ...fields } = e;
    await sim.pusher.push(fields as Record<string, string | number>);
  };
  registerTokens(app, sim);
  registerShipping(app, sim, push);
  registerPhone(app, sim);
  registerSession(app, sim);

  const api: WxServerSimulator = {
    tokenStats: () => ({ stableTokenCalls: sim.state.wx.stableTokenCalls, forceRefreshCalls: sim.state.wx.forceRefreshCalls, issued: sim.state.wx.tokens.length }),
    expireTokens: () => expireAccessTokens(sim),
    invalidateTokens: () => invalidateAccessTokens(sim),
    setTokenLifetime(s) {
      sim.state.wx.tokenLifetimeS = s;
    },
    setShippingVisibleAfter(ms) {
      sim.state.wx.shippingVisibleAfterMs = ms;
    },
    setTradeManaged(m) {
      sim.state.wx.tradeManaged = m;
    },
    shipping(transactionId) {
      const t = [...sim.state.transactions.values()].find((x) => x.transactionId === transactionId && x.state === "SUCCESS");
      return t ? shippingOf(sim, t) : undefined;
    },
    confirmReceipt: (id, opts) => confirmReceipt(sim, push, id, opts),
    settle: (id) => settle(sim, push, id),
    get msgJumpPath() {
      return sim.state.wx.msgJumpPath;
    },
    mintPhoneCode: (user) => mintPhoneCode(sim, user),
    openData: (o) => sealOpenData(sim, o),
    get events() {
      return sim.state.wx.events;
    },
  };
  registerWxControl(app, api);
  return api;
}

function registerWxControl(app: Hono<SimEnv>, wx: WxServerSimulator): void {
  const body = async (req: Request): Promise<Record<string, unknown>> => {
    const text = await req.text();
    const v: unknown = text ? JSON.parse(text) : {};
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("body must be a JSON object");
    return v as Record<string, unknown>;
  };
  const guarded = (fn: (b: Record<string, unknown>, id: string) => unknown) => async (c: { req: { raw: Request; param(k: string): string | undefined } }) => {
    try {
      return Response.json((await fn(await body(c.req.raw), c.req.param("id") ?? "")) ?? { ok: true });
    } catch (e) {
      return Response.json({ error: e instanceof Error ? e.message : String(e) }, { status: 400 });
    }
  };
  app.get("/__sim/wx/tokens", (c) => c.json(wx.tokenStats()));
  app.post("/__sim/wx/tokens/expire", guarded(() => wx.expireTokens()));
  app.post("/__sim/wx/tokens/invalidate", guarded(() => wx.invalidateTokens()));
  app.post("/__sim/wx/tokens/lifetime", guarded((b) => wx.setTokenLifetime(Number(b.seconds))));
  app.post("/__sim/wx/shipping/visibility", guarded((b) => wx.setShippingVisibleAfter(Number(b.ms))));
  app.post("/__sim/wx/trade-managed", guarded((b) => wx.setTradeManaged(b.managed === true)));
  app.get("/__sim/wx/shipping/:id", (c) => {
    const s = wx.shipping(c.req.param("id"));
    return s ? c.json({ shipping: s }) : c.json({ error: "not found" }, 404);
  });
  app.post("/__sim/wx/shipping/:id/confirm-receipt", guarded((b, id) =>
    wx.confirmReceipt(id, { ...(b.method === 1 || b.method === 2 ? { method: b.method } : {}), pendingFunds: b.pendingFunds === true }).then((shipping) => ({ shipping })),
  ));
  app.post("/__sim/wx/shipping/:id/settle", guarded((_b, id) => wx.settle(id).then((shipping) => ({ shipping }))));
  app.post("/__sim/wx/phone-code", guarded((b) => {
    if (typeof b.openid !== "string") throw new Error("openid is required");
    return wx.mintPhoneCode({
      openid: b.openid,
      ...(typeof b.purePhoneNumber === "string" ? { purePhoneNumber: b.purePhoneNumber } : {}),
      ...(typeof b.countryCode === "string" ? { countryCode: b.countryCode } : {}),
    });
  }));
  app.post("/__sim/wx/open-data", guarded((b) => {
    if (typeof b.openid !== "string") throw new Error("openid is required");
    if (!b.data || typeof b.data !== "object" || Array.isArray(b.data)) throw new Error("data must be a JSON object (e.g. {stepInfoList:[…]})");
    return wx.openData({ openid: b.openid, data: b.data as Record<string, unknown>, ...(typeof b.appid === "string" ? { appid: b.appid } : {}) });
  }));
  app.get("/__sim/wx/events", (c) => c.json({ events: wx.events, msgJumpPath: wx.msgJumpPath }));
}

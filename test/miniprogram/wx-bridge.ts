/**
 * The `wx` global for the example's pages under miniprogram-simulate, bridged to the running
 * system: wx.request → real HTTP to the Worker; wx.login → the simulator's POST /__sim/login-code;
 * wx.requestPayment → the simulator's POST /__sim/pay (the user pays: it verifies paySign like
 * WeChat) or POST /__sim/cancel (the user closes the sheet); storage in memory; UI calls
 * (toast, loading, navigation) recorded.
 */

type Callbacks = { success?: (r: unknown) => void; fail?: (e: { errMsg: string }) => void; complete?: (r: unknown) => void };
type AnyOption = Callbacks & Record<string, unknown>;

export interface RecordedRequest {
  method: string;
  url: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  response: unknown;
}

export interface Bridge {
  /** What wx.requestPayment does next: the user pays, closes the sheet, or WeChat rejects the paySign. */
  payment: "pay" | "cancel" | "tamper";
  requests: RecordedRequest[];
  navigations: { kind: "navigateTo" | "redirectTo" | "reLaunch"; url: string }[];
  toasts: string[];
  payments: { errMsg: string }[];
  storage: Map<string, unknown>;
  openid: string | null;
  /** Resolves when every wx call started so far has called back. */
  idle(): Promise<void>;
}

function settle(option: AnyOption, ok: boolean, result: Record<string, unknown> & { errMsg: string }): void {
  if (ok) option.success?.(result);
  else option.fail?.(result);
  option.complete?.(result);
}

export function installWx({ simUrl }: { simUrl: string }): Bridge {
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => {});
    return p;
  };
  const bridge: Bridge = {
    payment: "pay",
    requests: [],
    navigations: [],
    toasts: [],
    payments: [],
    storage: new Map(),
    openid: null,
    async idle() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };

  const postSim = async (path: string, body: unknown) => {
    const res = await fetch(`${simUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  const wx = {
    request(option: AnyOption) {
      const url = String(option.url);
      const method = String(option.method ?? "GET").toUpperCase();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries((option.header as Record<string, unknown>) ?? {})) headers[k.toLowerCase()] = String(v);
      let body: string | undefined;
      if (option.data !== undefined && method !== "GET") {
        body = typeof option.data === "string" ? option.data : JSON.stringify(option.data);
        headers["content-type"] ??= "application/json";
      }
      void track(
        (async () => {
          try {
            const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(Number(option.timeout ?? 60_000)) });
            const text = await res.text();
            let data: unknown = text;
            if (option.dataType === undefined || option.dataType === "json") {
              try {
                data = JSON.parse(text);
              } catch {
                data = text;
              }
            }
            const header: Record<string, string> = {};
            res.headers.forEach((v, k) => (header[k] = v));
            bridge.requests.push({ method, url, path: url.replace(/^https?:\/\/[^/]+/, ""), status: res.status, headers, body: body ? JSON.parse(body) : undefined, response: data });
            settle(option, true, { errMsg: "request:ok", statusCode: res.status, data, header, cookies: [] });
          } catch (e) {
            settle(option, false, { errMsg: `request:fail ${e instanceof Error ? e.message : String(e)}` });
          }
        })(),
      );
      return { abort() {} };
    },

    login(option: AnyOption) {
      void track(
        (async () => {
          try {
            // The same WeChat user every time (as on one phone): the first login creates them.
            const r = await postSim("/__sim/login-code", bridge.openid ? { openid: bridge.openid } : {});
            if (r.status !== 200 || typeof r.json.code !== "string") throw new Error(`simulator answered ${r.status}`);
            bridge.openid = String(r.json.openid);
            settle(option, true, { errMsg: "login:ok", code: r.json.code });
          } catch (e) {
            settle(option, false, { errMsg: `login:fail ${e instanceof Error ? e.message : String(e)}` });
          }
        })(),
      );
    },

    requestPayment(option: AnyOption) {
      const payment = {
        timeStamp: option.timeStamp,
        nonceStr: option.nonceStr,
        package: option.package,
        signType: option.signType,
        paySign: option.paySign,
      };
      void track(
        (async () => {
          let r: { status: number; json: Record<string, unknown> };
          if (bridge.payment === "cancel") {
            r = await postSim("/__sim/cancel", {});
          } else {
            if (bridge.payment === "tamper") {
              const s = String(payment.paySign);
              payment.paySign = (s[0] === "A" ? "B" : "A") + s.slice(1);
            }
            r = await postSim("/__sim/pay", { payment, ...(bridge.openid ? { openid: bridge.openid } : {}) });
          }
          const errMsg = String(r.json.errMsg ?? `requestPayment:fail simulator ${r.status}`);
          bridge.payments.push({ errMsg });
          settle(option, r.json.ok === true, { errMsg });
        })(),
      );
    },

    getStorageSync: (key: string) => (bridge.storage.has(key) ? structuredClone(bridge.storage.get(key)) : ""),
    setStorageSync: (key: string, value: unknown) => void bridge.storage.set(key, structuredClone(value)),
    removeStorageSync: (key: string) => void bridge.storage.delete(key),
    clearStorageSync: () => bridge.storage.clear(),

    showToast: (o: AnyOption) => {
      bridge.toasts.push(String(o.title));
      settle(o, true, { errMsg: "showToast:ok" });
    },
    showLoading: (o: AnyOption) => settle(o, true, { errMsg: "showLoading:ok" }),
    hideLoading: (o: AnyOption = {}) => settle(o, true, { errMsg: "hideLoading:ok" }),
    showModal: (o: AnyOption) => settle(o, true, { errMsg: "showModal:ok", confirm: true, cancel: false }),
    stopPullDownRefresh: (o: AnyOption = {}) => settle(o, true, { errMsg: "stopPullDownRefresh:ok" }),
    navigateTo: (o: AnyOption) => {
      bridge.navigations.push({ kind: "navigateTo", url: String(o.url) });
      settle(o, true, { errMsg: "navigateTo:ok" });
    },
    redirectTo: (o: AnyOption) => {
      bridge.navigations.push({ kind: "redirectTo", url: String(o.url) });
      settle(o, true, { errMsg: "redirectTo:ok" });
    },
    reLaunch: (o: AnyOption) => {
      bridge.navigations.push({ kind: "reLaunch", url: String(o.url) });
      settle(o, true, { errMsg: "reLaunch:ok" });
    },
  };

  const g = globalThis as unknown as { wx?: Record<string, unknown> };
  // miniprogram-simulate merges its own wx mocks into an existing global wx: ours win.
  g.wx = Object.assign(g.wx ?? {}, wx);
  return bridge;
}

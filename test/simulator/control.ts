/**
 * @module test/simulator/control — the control API over HTTP under `/__sim/…`, for `npm run dev`,
 * demos and mini-program tests (the same operations as the programmatic API in index.ts).
 * Unauthenticated: the simulator is a local test tool, never exposed publicly.
 */
import type { Hono } from "hono";
import type { SimEnv } from "./auth";
import type { FaultSpec } from "./faults";
import type { Simulator } from "./index";
import { PUSH_TAMPERS, type PushMessage, type PushTamper } from "./push";
import type { RefundStatus, RequestPaymentParams } from "./types";

export function registerControl(app: Hono<SimEnv>, sim: Simulator): void {
  const body = async (req: Request): Promise<Record<string, unknown>> => {
    const text = await req.text();
    if (!text) return {};
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("body must be a JSON object");
    return v as Record<string, unknown>;
  };
  const bad = (e: unknown) => Response.json({ error: e instanceof Error ? e.message : String(e) }, { status: 400 });

  app.get("/__sim", (c) =>
    c.json({
      endpoints: [
        "POST /__sim/login-code {openid?, unionid?}",
        "POST /__sim/pay {payment:{timeStamp,nonceStr,package,signType,paySign}, openid?}",
        "POST /__sim/cancel",
        "GET /__sim/transactions", "GET /__sim/transactions/:outTradeNo",
        "GET /__sim/refunds", "POST /__sim/refunds/:outRefundNo/settle {status}",
        "GET /__sim/deliveries", "GET /__sim/notifications",
        "POST /__sim/notifications/deliver-due", "POST /__sim/notifications/flush {rounds?}",
        "GET|POST|DELETE /__sim/faults", "DELETE /__sim/faults/:id",
        "GET|POST /__sim/signing {responses?, notifications?, publicKeyRatio?, activeCertificate?}",
        "POST /__sim/certificates {serial, privateKeyPem, certificatePem}",
        "POST /__sim/push {message:{Event, …fields}, format?: json|xml, tamper?}", "GET /__sim/pushes",
        "GET /__sim/stats", "POST /__sim/reset",
        "GET /__sim/wx/tokens", "POST /__sim/wx/tokens/expire", "POST /__sim/wx/tokens/invalidate", "POST /__sim/wx/tokens/lifetime {seconds}",
        "POST /__sim/wx/shipping/visibility {ms}", "POST /__sim/wx/trade-managed {managed}", "GET /__sim/wx/shipping/:transactionId",
        "POST /__sim/wx/shipping/:transactionId/confirm-receipt {method?, pendingFunds?}", "POST /__sim/wx/shipping/:transactionId/settle",
        "POST /__sim/wx/phone-code {openid, purePhoneNumber?, countryCode?}", "POST /__sim/wx/open-data {openid, data, appid?}", "GET /__sim/wx/events",
      ],
    }),
  );
  app.post("/__sim/login-code", async (c) => {
    try {
      const b = await body(c.req.raw);
      const user: { openid?: string; unionid?: string } = {};
      if (typeof b.openid === "string") user.openid = b.openid;
      if (typeof b.unionid === "string") user.unionid = b.unionid;
      return c.json(sim.mintCode(user));
    } catch (e) {
      return bad(e);
    }
  });
  app.post("/__sim/pay", async (c) => {
    try {
      const b = await body(c.req.raw);
      const payment = (b.payment ?? b) as RequestPaymentParams;
      const r = await sim.pay(payment, typeof b.openid === "string" ? { openid: b.openid } : {});
      return c.json(r, r.ok ? 200 : 400);
    } catch (e) {
      return bad(e);
    }
  });
  app.post("/__sim/cancel", (c) => c.json(sim.cancel()));
  app.get("/__sim/transactions", (c) => c.json({ transactions: sim.listTransactions() }));
  app.get("/__sim/transactions/:no", (c) => {
    const t = sim.getTransaction(c.req.param("no"));
    return t ? c.json({ transaction: t, view: sim.transactionView(t.outTradeNo) }) : c.json({ error: "not found" }, 404);
  });
  app.get("/__sim/refunds", (c) => c.json({ refunds: sim.listRefunds() }));
  app.post("/__sim/refunds/:no/settle", async (c) => {
    try {
      const b = await body(c.req.raw);
      const status = (b.status ?? "SUCCESS") as Exclude<RefundStatus, "PROCESSING">;
      return c.json({ refund: await sim.settleRefund(c.req.param("no"), status) });
    } catch (e) {
      return bad(e);
    }
  });
  app.get("/__sim/deliveries", (c) => c.json({ deliveries: sim.deliveries }));
  app.get("/__sim/notifications", (c) =>
    c.json({
      notifications: sim.notifications.map((n) => ({
        eventId: n.eventId, eventType: n.eventType, url: n.url, state: n.state, attempts: n.attempts,
        nextAt: n.nextAt, serial: n.signer.serial, resource: n.resource,
      })),
    }),
  );
  app.post("/__sim/notifications/deliver-due", async (c) => c.json({ deliveries: await sim.deliverDue() }));
  app.post("/__sim/notifications/flush", async (c) => {
    const b = await body(c.req.raw).catch(() => ({}) as Record<string, unknown>);
    return c.json({ deliveries: await sim.flush(typeof b.rounds === "number" ? { rounds: b.rounds } : {}) });
  });
  app.get("/__sim/faults", (c) => c.json({ faults: sim.listFaults() }));
  app.post("/__sim/faults", async (c) => {
    try {
      const b = await body(c.req.raw);
      const specs = (Array.isArray(b.faults) ? b.faults : [b]) as FaultSpec[];
      return c.json({ ids: specs.map((s) => sim.addFault(s)) }, 201);
    } catch (e) {
      return bad(e);
    }
  });
  app.delete("/__sim/faults", (c) => {
    sim.clearFaults();
    return c.body(null, 204);
  });
  app.delete("/__sim/faults/:id", (c) => (sim.removeFault(c.req.param("id")) ? c.body(null, 204) : c.json({ error: "not found" }, 404)));
  app.get("/__sim/signing", (c) => c.json(sim.signing));
  app.post("/__sim/signing", async (c) => {
    try {
      sim.setSigning((await body(c.req.raw)) as Parameters<Simulator["setSigning"]>[0]);
      return c.json(sim.signing);
    } catch (e) {
      return bad(e);
    }
  });
  app.post("/__sim/certificates", async (c) => {
    try {
      const b = await body(c.req.raw);
      sim.addCertificate(b as unknown as Parameters<Simulator["addCertificate"]>[0]);
      return c.json({ certificates: sim.certificateSerials() }, 201);
    } catch (e) {
      return bad(e);
    }
  });
  // Message push (WECHATPAY.md O): seal one event and POST it to the Worker's push URL now.
  app.post("/__sim/push", async (c) => {
    try {
      const b = await body(c.req.raw);
      const message = b.message;
      if (!message || typeof message !== "object" || Array.isArray(message)) throw new Error("message must be an object of push fields (Event, transaction_id, …)");
      if (b.format !== undefined && b.format !== "json" && b.format !== "xml") throw new Error("format: json | xml");
      if (b.tamper !== undefined && !(PUSH_TAMPERS as readonly unknown[]).includes(b.tamper)) throw new Error(`tamper: one of ${PUSH_TAMPERS.join(", ")}`);
      const delivery = await sim.push(message as PushMessage, {
        ...(b.format ? { format: b.format as "json" | "xml" } : {}),
        ...(b.tamper ? { tamper: b.tamper as PushTamper } : {}),
      });
      return c.json({ delivery });
    } catch (e) {
      return bad(e);
    }
  });
  app.get("/__sim/pushes", (c) => c.json({ pushes: sim.pushes }));
  app.get("/__sim/stats", (c) => c.json(sim.stats()));
  app.post("/__sim/reset", (c) => {
    sim.reset();
    return c.body(null, 204);
  });
}

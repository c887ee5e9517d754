/**
 * A prepay_id's life (SPEC §8): its 2 h count from when WeChat first returned it — a repeat
 * prepay answering the same id does not renew it — and `/pay` never hands out one older than
 * 2 h − 10 min; every repeat prepay sends the order's stored notify_url, byte for byte.
 */
import { describe, expect, it } from "vitest";
import { createHarness, T0 } from "../support/harness";
import * as keys from "../fixtures/keys";
import { calls, createPaying, JSAPI, orderRow, type OrderJson, type PaymentJson, setup } from "../unit/orders/support";

type PayRes = { order: OrderJson; payment: PaymentJson };
const MIN = 60_000;
/** Four hours: the order outlives its first prepay_id (and the shopper's session the test). */
const LONG_TTL = { ORDER_TTL_SECONDS: "14400", SESSION_TTL_SECONDS: "86400" };

describe("POST /v1/orders/:id/pay — prepay_id lifetime", () => {
  it("at 111 min WeChat answers the same id, which stays as old as it was; at 122 min a new prepay hands out a fresh id", async () => {
    const { w, u } = await setup({ env: LONG_TTL });
    const { order, payment } = await createPaying(w, u.token);
    const pay = async (): Promise<PayRes> => {
      const res = await w.request("POST", `/v1/orders/${order.id}/pay`, { token: u.token });
      expect(res.status).toBe(200);
      return (await res.json()) as PayRes;
    };

    // 109 min: fresh, reused without asking WeChat.
    w.clock.set(T0 + 109 * MIN);
    expect((await pay()).payment.package).toBe(payment.package);
    expect(calls(w, JSAPI)).toBe(1);

    // 111 min: older than 2 h − 10 min, so WeChat is asked; it answers the id it issued at 0 min.
    w.clock.set(T0 + 111 * MIN);
    expect((await pay()).payment.package).toBe(payment.package);
    expect(calls(w, JSAPI)).toBe(2);
    const repeated = await orderRow(w, order.id);
    expect(repeated.prepay_issued_at).toBe(T0);
    expect(repeated.prepay_at).toBe(T0 + 111 * MIN);

    // 122 min: the first id is dead at WeChat. The repeat at 111 min must not have made it look
    // 11 minutes old: WeChat is asked again and the new id is handed out.
    w.clock.set(T0 + 122 * MIN);
    const fresh = await pay();
    expect(calls(w, JSAPI)).toBe(3);
    expect(fresh.payment.package).not.toBe(payment.package);
    const renewed = await orderRow(w, order.id);
    expect(`prepay_id=${renewed.prepay_id}`).toBe(fresh.payment.package);
    expect(renewed.prepay_issued_at).toBe(T0 + 122 * MIN);

    // What the user's WeChat client makes of each: the old id is refused, the new one pays.
    expect((await w.sim.pay(payment as never, { openid: u.openid })).ok).toBe(false);
    expect((await w.sim.pay(fresh.payment as never, { openid: u.openid })).ok).toBe(true);
  });

  it("the audit row tells a repeat that answered the same id from one that brought a new id", async () => {
    const { w, u } = await setup({ env: LONG_TTL });
    const { order } = await createPaying(w, u.token);
    for (const at of [111, 122]) {
      w.clock.set(T0 + at * MIN);
      expect((await w.request("POST", `/v1/orders/${order.id}/pay`, { token: u.token })).status).toBe(200);
    }
    const { results } = await w.env.DB.prepare("SELECT detail FROM order_events WHERE order_id = ? AND to_status = 'PAYING' ORDER BY id")
      .bind(order.id)
      .all<{ detail: string }>();
    expect(results.map((r) => JSON.parse(r.detail))).toEqual([
      expect.objectContaining({ prepay: "first" }),
      expect.objectContaining({ prepay: "repeated", sameId: true }),
      expect.objectContaining({ prepay: "repeated", sameId: false }),
    ]);
  });
});

describe("POST /v1/orders/:id/pay — notify_url stored with the order", () => {
  it("after WXPAY_NOTIFY_URL changes, the repeat prepay's body is byte-identical to the first; new orders take the new URL", async () => {
    const { w, u } = await setup({ env: LONG_TTL });
    const bodies: string[] = [];
    const simFetch = w.deps.fetch;
    const recording: typeof fetch = async (input, init) => {
      if (String(input).endsWith("/v3/pay/transactions/jsapi")) bodies.push(String(init?.body));
      return simFetch(input, init);
    };
    w.deps.fetch = recording;
    const { order } = await createPaying(w, u.token);
    expect(bodies).toHaveLength(1);
    expect(JSON.parse(bodies[0]!).notify_url).toBe(keys.NOTIFY_URL);
    expect((await orderRow(w, order.id)).notify_url).toBe(keys.NOTIFY_URL);

    // The same database and WeChat, redeployed with another notify URL.
    const NEW_URL = "https://pay.merchant.example.com/wechat/notify";
    const moved = createHarness({ clock: w.clock, fetch: recording, env: { ...LONG_TTL, WXPAY_NOTIFY_URL: NEW_URL } });
    w.clock.set(T0 + 122 * MIN);
    const res = await moved.request("POST", `/v1/orders/${order.id}/pay`, { token: u.token });
    expect(res.status).toBe(200);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toBe(bodies[0]);
    expect((await w.sim.pay(((await res.json()) as PayRes).payment as never, { openid: u.openid })).ok).toBe(true);

    const later = await createPaying(moved, u.token);
    expect(JSON.parse(bodies[2]!).notify_url).toBe(NEW_URL);
    expect((await orderRow(w, later.order.id)).notify_url).toBe(NEW_URL);
  });
});

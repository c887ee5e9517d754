/** @jsxImportSource hono/jsx */
/**
 * @module console/views/order — one order: lines, a timeline of everything that happened to it,
 * notifications, refunds, flags, fulfilment, shipping, and the actions (refund with the
 * refundable maximum shown, sync with WeChat, cancel an unpaid order).
 */
import type { FC } from "hono/jsx";
import type { AdminOrderDetail } from "../../admin/queries";
import { fenToYuan, formatFen } from "../../lib/money";
import type { T } from "../i18n";
import { Badge, Csrf, Layout, Money, Time, type PageCtx } from "./layout";

export interface OrderPageProps {
  p: PageCtx;
  d: AdminOrderDetail;
  /** Fen still refundable (paid − refunds succeeded or in progress). */
  refundable: number;
  /** A fresh Idempotency-Key for this render's refund form: submitting it twice refunds once. */
  refundKey: string;
  /** The same for the shipping form. */
  shipKey: string;
  notice?: string | undefined;
  error?: string | undefined;
  /** What the operator typed, kept when the server refused it. */
  typed?: { amount: string; reason: string } | undefined;
}

interface Entry {
  at: string;
  text: string;
  kind: string;
}

export function timeline(d: AdminOrderDetail, t: T): Entry[] {
  const status = (s: string) => t(`status_${s}` as never) ?? s;
  const out: Entry[] = [{ at: d.order.createdAt, text: `${t("orderCreated")} · ${formatFen(d.order.amount)}`, kind: "created" }];
  for (const h of d.history) out.push({ at: h.at, text: `${status(h.from)} → ${status(h.to)} (${h.source})`, kind: "status" });
  for (const n of d.notifications) out.push({ at: n.receivedAt, text: `${t("notifications")}: ${n.eventType} · ${n.outcome}`, kind: "notification" });
  for (const r of d.refunds) {
    out.push({ at: r.createdAt, text: `${t("refund")} ${formatFen(r.amount)}${r.reason ? ` · ${r.reason}` : ""}`, kind: "refund" });
    // settledAt is WeChat's success_time, in whole seconds: a refund settled within the second it
    // was created would otherwise be listed before it (and before the order, in the demo).
    if (r.settledAt) out.push({ at: r.settledAt < r.createdAt ? r.createdAt : r.settledAt, text: `${t(`refund_${r.status}` as never)} ${formatFen(r.amount)}`, kind: "refund-settled" });
  }
  for (const f of d.flags) {
    out.push({ at: f.at, text: `${t("flags")}: ${f.kind}`, kind: "flag" });
    if (f.resolvedAt) out.push({ at: f.resolvedAt, text: `${t("resolved")}: ${f.kind}${f.note ? ` · ${f.note}` : ""}`, kind: "flag-resolved" });
  }
  if (d.fulfilment?.doneAt) out.push({ at: d.fulfilment.doneAt, text: `${t("fulfilment")}: ${d.fulfilment.status}`, kind: "fulfilment" });
  // Stable: same-instant entries keep the order above (created, status, notification, …).
  return out.map((e, i) => ({ e, i })).sort((a, b) => a.e.at.localeCompare(b.e.at) || a.i - b.i).map(({ e }) => e);
}

const RefundForm: FC<OrderPageProps> = ({ p, d, refundable, refundKey, typed }) => (
  <form method="post" action={`/admin/ui/orders/${d.order.id}/refund`} data-confirm={p.t("confirmRefund")} class="refund">
    <Csrf token={p.csrf} />
    <input type="hidden" name="idempotencyKey" value={refundKey} />
    <p>
      {p.t("refundable")}: <b data-refundable-fen={String(refundable)}>{formatFen(refundable)}</b>
    </p>
    <label>
      {p.t("refundAmount")}
      <input
        name="amount"
        inputmode="decimal"
        autocomplete="off"
        required
        placeholder={fenToYuan(refundable)}
        value={typed?.amount ?? ""}
        data-max-fen={String(refundable)}
        data-msg-too-much={`${p.t("refundTooMuch")} (${formatFen(refundable)})`}
        data-msg-invalid={p.t("refundInvalid")}
      />
    </label>
    <div class="field-error" data-refund-error aria-live="polite"></div>
    <label>
      {p.t("refundReason")}
      <input name="reason" maxlength={80} value={typed?.reason ?? ""} />
    </label>
    <p>
      <button type="submit">{p.t("refund")}</button>
    </p>
  </form>
);

/** Statuses in which a shipment can (still) be entered. */
const SHIP_AGAIN = new Set(["NOT_SHIPPED", "FAILED"]);

const ShippingCard: FC<OrderPageProps> = ({ p, d, shipKey }) => {
  const s = d.shipping;
  if (!s) return <p class="muted">{p.t("none")}</p>;
  return (
    <>
      <p data-shipping-status={s.status}>
        <Badge status={s.status} label={p.t(`ship_${s.status}`)} />
        {s.logisticsType ? <> · {p.t(`logistics_${s.logisticsType}`)}</> : null}
        {s.uploadedAt ? <> · <Time at={s.uploadedAt} /></> : null}
      </p>
      {s.parcels.map((x) => (
        <p class="mono">{[x.expressCompany, x.trackingNo].filter(Boolean).join(" ")}</p>
      ))}
      {s.lastError ? <p class="muted">{p.t("lastError")}: {s.lastError}</p> : null}
      {SHIP_AGAIN.has(s.status) ? (
        <form method="post" action={`/admin/ui/orders/${d.order.id}/shipping`} class="shipping">
          <Csrf token={p.csrf} />
          <input type="hidden" name="idempotencyKey" value={shipKey} />
          <label>
            {p.t("logisticsType")}
            <select name="logisticsType">
              {(["express", "same_city", "virtual", "pickup"] as const).map((t) => (
                <option value={t}>{p.t(`logistics_${t}`)}</option>
              ))}
            </select>
          </label>
          <label>
            {p.t("trackingNo")}
            <input name="trackingNo" maxlength={128} autocomplete="off" />
          </label>
          <label>
            {p.t("expressCompany")}
            <input name="expressCompany" maxlength={32} autocomplete="off" />
          </label>
          <p>
            <button type="submit">{p.t("shipNow")}</button>
          </p>
        </form>
      ) : null}
    </>
  );
};

export const OrderPage: FC<OrderPageProps> = (props) => {
  const { p, d, refundable, notice, error } = props;
  const o = d.order;
  const refundableNow = (o.status === "PAID" || o.status === "PARTIALLY_REFUNDED") && refundable > 0;
  return (
    <Layout p={p} active="orders" title={o.outTradeNo} notice={notice} error={error}>
      <h1>
        {p.t("order")} <span class="mono">{o.outTradeNo}</span> <Badge status={o.status} label={p.t(`status_${o.status}`)} />
      </h1>
      <div class="split">
        <div>
          <div class="card">
            <table>
              <tbody>
                <tr><th>{p.t("id")}</th><td class="mono">{o.id}</td></tr>
                <tr><th>{p.t("transactionId")}</th><td class="mono">{o.transactionId ?? "–"}</td></tr>
                <tr><th>{p.t("payer")}</th><td class="mono">{o.openid}</td></tr>
                <tr><th>{p.t("amount")}</th><td><Money fen={o.amount} /></td></tr>
                <tr><th>{p.t("refunded")}</th><td data-refunded-fen={String(o.refundedAmount)}><Money fen={o.refundedAmount} /></td></tr>
                <tr><th>{p.t("createdAt")}</th><td><Time at={o.createdAt} /></td></tr>
                <tr><th>{p.t("paidAt")}</th><td><Time at={o.paidAt} /></td></tr>
                <tr><th>{p.t("expiresAt")}</th><td><Time at={o.expiresAt} /></td></tr>
              </tbody>
            </table>
          </div>
          <h2>{p.t("lines")}</h2>
          <table>
            <thead><tr><th>{p.t("product")}</th><th class="num">{p.t("unitPrice")}</th><th class="num">{p.t("quantity")}</th><th class="num">{p.t("subtotal")}</th></tr></thead>
            <tbody>
              {o.items.map((i) => (
                <tr>
                  <td>{i.name} <span class="muted mono">{i.productId}</span></td>
                  <td class="num"><Money fen={i.unitPrice} /></td>
                  <td class="num">{i.quantity}</td>
                  <td class="num"><Money fen={i.unitPrice * i.quantity} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>{p.t("timeline")}</h2>
          <div class="card">
            <ol class="timeline">
              {timeline(d, p.t).map((e) => (
                <li data-kind={e.kind}>
                  <Time at={e.at} />
                  {e.text}
                </li>
              ))}
            </ol>
          </div>
          <h2>{p.t("refunds")}</h2>
          <table>
            <thead><tr><th>{p.t("createdAt")}</th><th class="num">{p.t("amount")}</th><th>{p.t("status")}</th><th>{p.t("refundReason")}</th><th>out_refund_no</th></tr></thead>
            <tbody>
              {d.refunds.map((r) => (
                <tr data-refund-id={r.id}>
                  <td><Time at={r.createdAt} /></td>
                  <td class="num"><Money fen={r.amount} /></td>
                  <td><Badge status={r.status} label={p.t(`refund_${r.status}`)} /></td>
                  <td>{r.reason ?? ""}</td>
                  <td class="mono">{r.outRefundNo}</td>
                </tr>
              ))}
              {d.refunds.length === 0 ? <tr><td colspan={5} class="muted">{p.t("none")}</td></tr> : null}
            </tbody>
          </table>
          <h2>{p.t("notifications")}</h2>
          <table>
            <thead><tr><th>{p.t("at")}</th><th>{p.t("event")}</th><th>{p.t("outcome")}</th></tr></thead>
            <tbody>
              {d.notifications.map((n) => (
                <tr><td><Time at={n.receivedAt} /></td><td class="mono">{n.eventType}</td><td>{n.outcome}</td></tr>
              ))}
              {d.notifications.length === 0 ? <tr><td colspan={3} class="muted">{p.t("none")}</td></tr> : null}
            </tbody>
          </table>
          <h2>{p.t("flags")}</h2>
          <table>
            <thead><tr><th>{p.t("at")}</th><th>{p.t("kind")}</th><th>{p.t("status")}</th><th>{p.t("note")}</th></tr></thead>
            <tbody>
              {d.flags.map((f) => (
                <tr data-flag-id={String(f.id)}>
                  <td><Time at={f.at} /></td>
                  <td class="mono">{f.kind}</td>
                  <td>{f.resolvedAt ? p.t("resolved") : <a href="/admin/ui/flags">{p.t("open")}</a>}</td>
                  <td>{f.note ?? ""}</td>
                </tr>
              ))}
              {d.flags.length === 0 ? <tr><td colspan={4} class="muted">{p.t("none")}</td></tr> : null}
            </tbody>
          </table>
        </div>
        <div>
          <div class="card">
            <h3>{p.t("refund")}</h3>
            {refundableNow ? <RefundForm {...props} /> : <p class="muted">{p.t("nothingRefundable")}</p>}
          </div>
          <div class="card">
            <h3>{p.t("actions")}</h3>
            <form method="post" action={`/admin/ui/orders/${o.id}/sync`} class="inline">
              <Csrf token={p.csrf} />
              <button type="submit" class="plain" disabled={o.status !== "PAYING"}>{p.t("sync")}</button>
            </form>
            {o.status === "CREATED" || o.status === "PAYING" ? (
              <form method="post" action={`/admin/ui/orders/${o.id}/cancel`} class="inline" data-confirm={p.t("confirmCancel")}>
                <Csrf token={p.csrf} />
                <p><button type="submit" class="danger">{p.t("cancelOrder")}</button></p>
              </form>
            ) : null}
          </div>
          <div class="card">
            <h3>{p.t("fulfilment")}</h3>
            {d.fulfilment ? (
              <p>
                <Badge status={d.fulfilment.status} label={d.fulfilment.status} /> · {p.t("attempts")} {d.fulfilment.attempts}
                {d.fulfilment.doneAt ? <> · <Time at={d.fulfilment.doneAt} /></> : null}
                {d.fulfilment.lastError ? <><br /><span class="muted">{p.t("lastError")}: {d.fulfilment.lastError}</span></> : null}
              </p>
            ) : (
              <p class="muted">{p.t("none")}</p>
            )}
          </div>
          <div class="card">
            <h3>{p.t("shipping")}</h3>
            <ShippingCard {...props} />
          </div>
        </div>
      </div>
    </Layout>
  );
};

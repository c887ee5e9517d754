/** @jsxImportSource hono/jsx */
/** @module console/views/orders — the order list: filter, search, pages, CSV export of the filter. */
import type { FC } from "hono/jsx";
import type { AdminOrderList, OrderFilter } from "../../admin/queries";
import { ORDER_STATUSES } from "../../db/schema";
import { Badge, Layout, Money, Time, type PageCtx } from "./layout";

/** The filter as a query string (for the CSV link and the next page). */
export function filterQuery(f: OrderFilter, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ status: f.status, q: f.q, from: f.from, to: f.to, ...extra })) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const OrdersPage: FC<{ p: PageCtx; filter: OrderFilter; list: AdminOrderList; error?: string | undefined }> = ({ p, filter, list, error }) => (
  <Layout p={p} active="orders" title={p.t("orders")} error={error}>
    <h1>{p.t("orders")}</h1>
    <div class="card">
      <form method="get" action="/admin/ui/orders" class="inline" role="search">
        <label>
          {p.t("search")}
          <input type="search" name="q" value={filter.q ?? ""} placeholder={p.t("searchHint")} size={40} />
        </label>
        <label>
          {p.t("status")}
          <select name="status">
            <option value="">{p.t("all")}</option>
            {ORDER_STATUSES.map((s) => (
              <option value={s} selected={filter.status === s}>
                {p.t(`status_${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {p.t("from")}
          <input type="date" name="from" value={filter.from ?? ""} />
        </label>
        <label>
          {p.t("to")}
          <input type="date" name="to" value={filter.to ?? ""} />
        </label>
        <button type="submit">{p.t("filter")}</button>
        <a href={`/admin/orders.csv${filterQuery(filter)}`} download data-action="csv">
          {p.t("exportCsv")}
        </a>
      </form>
    </div>
    <table>
      <thead>
        <tr>
          <th>{p.t("createdAt")}</th>
          <th>{p.t("outTradeNo")}</th>
          <th>{p.t("description")}</th>
          <th>{p.t("status")}</th>
          <th class="num">{p.t("amount")}</th>
          <th class="num">{p.t("refunded")}</th>
          <th>{p.t("payer")}</th>
        </tr>
      </thead>
      <tbody>
        {list.orders.map((o) => (
          <tr data-order-id={o.id}>
            <td><Time at={o.createdAt} /></td>
            <td class="mono"><a href={`/admin/ui/orders/${o.id}`}>{o.outTradeNo}</a></td>
            <td>{o.description}</td>
            <td><Badge status={o.status} label={p.t(`status_${o.status}`)} /></td>
            <td class="num"><Money fen={o.amount} /></td>
            <td class="num">{o.refundedAmount > 0 ? <Money fen={o.refundedAmount} /> : ""}</td>
            <td class="mono">{o.openid}</td>
          </tr>
        ))}
        {list.orders.length === 0 ? (
          <tr>
            <td colspan={7} class="muted">{p.t("noOrders")}</td>
          </tr>
        ) : null}
      </tbody>
    </table>
    <div class="pager">
      <a href={`/admin/ui/orders${filterQuery(filter)}`}>{p.t("firstPage")}</a>
      {list.nextCursor ? <a href={`/admin/ui/orders${filterQuery(filter, { cursor: list.nextCursor })}`} rel="next">{p.t("nextPage")}</a> : null}
    </div>
  </Layout>
);

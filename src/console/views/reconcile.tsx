/** @jsxImportSource hono/jsx */
/** @module console/views/reconcile — reconciliation runs with "run now", and bill checks by date. */
import type { FC } from "hono/jsx";
import type { RunView } from "../../admin/runs";
import { Csrf, Layout, Time, type PageCtx } from "./layout";

export const RunsPage: FC<{ p: PageCtx; runs: RunView[]; nextCursor: string | null; notice?: string | undefined }> = ({ p, runs, nextCursor, notice }) => (
  <Layout p={p} active="reconcile" title={p.t("reconcile")} notice={notice}>
    <h1>{p.t("reconcile")}</h1>
    <form method="post" action="/admin/ui/reconcile" class="inline">
      <Csrf token={p.csrf} />
      <button type="submit" data-action="run-now">{p.t("runNow")}</button>
    </form>
    <h2>{p.t("lastRun")}</h2>
    <table>
      <thead>
        <tr><th>#</th><th>{p.t("trigger")}</th><th>{p.t("started")}</th><th>{p.t("finished")}</th><th class="num">{p.t("scanned")}</th><th class="num">{p.t("changed")}</th><th class="num">{p.t("failed")}</th><th>{p.t("bills")}</th></tr>
      </thead>
      <tbody>
        {runs.map((r) => {
          const bill = r.bill as { status?: string; billDate?: string | null } | null;
          return (
            <tr data-run-id={String(r.id)}>
              <td>{r.id}</td>
              <td>{r.trigger}</td>
              <td><Time at={r.startedAt} /></td>
              <td><Time at={r.finishedAt} /></td>
              <td class="num">{r.scanned ?? "–"}</td>
              <td class="num">{r.changed ?? "–"}</td>
              <td class="num">{r.failed ?? "–"}</td>
              <td>{bill?.billDate ? <a href={`/admin/ui/bills?date=${bill.billDate}`}>{bill.billDate}</a> : null} <span class="muted">{bill?.status ?? ""}</span></td>
            </tr>
          );
        })}
        {runs.length === 0 ? <tr><td colspan={8} class="muted">{p.t("none")}</td></tr> : null}
      </tbody>
    </table>
    {nextCursor ? <div class="pager"><a href={`/admin/ui/reconcile?cursor=${nextCursor}`}>{p.t("nextPage")}</a></div> : null}
  </Layout>
);

export interface BillsPageProps {
  p: PageCtx;
  date: string;
  check: Record<string, unknown> | null;
  diffs: { kind: string; outTradeNo: string | null; outRefundNo: string | null; detail: unknown; at: string }[];
  dates: string[];
  notice?: string | undefined;
  error?: string | undefined;
}

export const BillsPage: FC<BillsPageProps> = ({ p, date, check, diffs, dates, notice, error }) => (
  <Layout p={p} active="bills" title={p.t("bills")} notice={notice} error={error}>
    <h1>{p.t("bills")}</h1>
    <div class="card">
      <form method="get" action="/admin/ui/bills" class="inline">
        <label>{p.t("billDate")}<input type="date" name="date" value={date} required /></label>
        <button type="submit" class="plain">{p.t("show")}</button>
      </form>
      <form method="post" action="/admin/ui/bills" class="inline">
        <Csrf token={p.csrf} />
        <input type="hidden" name="date" value={date} />
        <p><button type="submit">{p.t("checkNow")}</button></p>
      </form>
    </div>
    <h2>{date}</h2>
    {check ? <pre class="card mono" data-bill-summary>{JSON.stringify(check, null, 2)}</pre> : <p class="muted">{p.t("notChecked")}</p>}
    <h2>{p.t("diffs")}</h2>
    <table>
      <thead><tr><th>{p.t("kind")}</th><th>{p.t("outTradeNo")}</th><th>out_refund_no</th><th>{p.t("detail")}</th></tr></thead>
      <tbody>
        {diffs.map((x) => (
          <tr><td class="mono">{x.kind}</td><td class="mono">{x.outTradeNo ?? ""}</td><td class="mono">{x.outRefundNo ?? ""}</td><td class="mono">{JSON.stringify(x.detail)}</td></tr>
        ))}
        {diffs.length === 0 ? <tr><td colspan={4} class="muted">{p.t("noDiffs")}</td></tr> : null}
      </tbody>
    </table>
    <h2>{p.t("checkedDates")}</h2>
    <p>{dates.length ? dates.map((d) => <><a href={`/admin/ui/bills?date=${d}`}>{d}</a>{" "}</>) : <span class="muted">{p.t("none")}</span>}</p>
  </Layout>
);

/** @jsxImportSource hono/jsx */
/** @module console/views/overview — today / 7 / 30 days, the daily chart, flags, last run, last bill check. */
import type { FC } from "hono/jsx";
import { sumFigures, type DayFigures, type Stats } from "../../admin/stats";
import { fenToYuan, formatFen } from "../../lib/money";
import { Layout, Money, Time, type PageCtx } from "./layout";

const Kpi: FC<{ p: PageCtx; title: string; f: DayFigures; id: string }> = ({ p, title, f, id }) => (
  <div class="card kpi" data-period={id}>
    <h3>{title}</h3>
    <dl>
      <dt>{p.t("gmvPaid")}</dt>
      <dd class="big" data-figure="gmvPaid"><Money fen={f.gmvPaid} /></dd>
      <dt>{p.t("ordersCreated")}</dt>
      <dd data-figure="orders">{f.orders}</dd>
      <dt>{p.t("paid")}</dt>
      <dd data-figure="paid">{f.paid}</dd>
      <dt>{p.t("refunded")}</dt>
      <dd data-figure="refunded"><Money fen={f.refunded} /></dd>
      <dt>{p.t("net")}</dt>
      <dd data-figure="net"><Money fen={f.net} /></dd>
    </dl>
  </div>
);

const W = 1100;
const H = 220;
const PAD = { l: 64, r: 8, t: 12, b: 28 };

/** Bars of GMV paid per day, with the refunded part drawn over each bar; axis labels in yuan. */
const Chart: FC<{ daily: Stats["daily"] }> = ({ daily }) => {
  const max = Math.max(100, ...daily.map((d) => d.gmvPaid));
  const innerW = W - PAD.l - PAD.r;
  const innerH = H - PAD.t - PAD.b;
  const step = innerW / daily.length;
  const barW = Math.max(2, step * 0.7);
  const y = (fen: number) => PAD.t + innerH - Math.round((fen / max) * innerH);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((k) => Math.round(max * k));
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label="daily GMV">
      {ticks.map((v) => (
        <g>
          <line x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} stroke="#e5e6eb" stroke-width="1" />
          <text x={PAD.l - 6} y={y(v) + 3} text-anchor="end">{formatFen(v).replace(/\.\d\d$/, "")}</text>
        </g>
      ))}
      {daily.map((d, i) => {
        const x = PAD.l + i * step + (step - barW) / 2;
        return (
          <g data-date={d.date}>
            <title>{`${d.date}  ${formatFen(d.gmvPaid)} / −${fenToYuan(d.refunded)}`}</title>
            <rect x={x.toFixed(1)} y={y(d.gmvPaid)} width={barW.toFixed(1)} height={PAD.t + innerH - y(d.gmvPaid)} rx="2" fill="#07c160" />
            {d.refunded > 0 ? <rect x={x.toFixed(1)} y={y(d.refunded)} width={barW.toFixed(1)} height={PAD.t + innerH - y(d.refunded)} rx="2" fill="#ff7d00" opacity="0.85" /> : null}
            {i % 5 === 0 || i === daily.length - 1 ? (
              <text x={(x + barW / 2).toFixed(1)} y={H - 8} text-anchor="middle">{d.date.slice(5)}</text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
};

export const OverviewPage: FC<{ p: PageCtx; stats: Stats }> = ({ p, stats }) => {
  const run = stats.lastRun;
  const bill = stats.lastBillCheck;
  const billStatus = (bill?.summary as { status?: string } | null)?.status;
  return (
    <Layout p={p} active="overview" title={p.t("overview")}>
      <h1>{p.t("overview")}</h1>
      <div class="grid">
        <Kpi p={p} id="today" title={p.t("today")} f={sumFigures(stats.daily.slice(-1))} />
        <Kpi p={p} id="7" title={p.t("last7")} f={sumFigures(stats.daily.slice(-7))} />
        <Kpi p={p} id="30" title={p.t("last30")} f={stats.totals} />
      </div>
      <div class="card">
        <h3 class="muted">
          {p.t("dailyChart")} <span class="legend paid">■ {p.t("gmvPaid")}</span> <span class="legend refunded">■ {p.t("refunded")}</span>
        </h3>
        <Chart daily={stats.daily} />
      </div>
      <div class="facts">
        <div class="card">
          <span class="muted">{p.t("openFlags")}</span>
          <b data-figure="openFlags"><a href="/admin/ui/flags">{stats.openFlags}</a></b>
        </div>
        <div class="card">
          <span class="muted">{p.t("lastRun")}</span>
          {run ? (
            <b>
              <a href="/admin/ui/reconcile"><Time at={run.startedAt} /></a>
              <span class="muted"> · {p.t("scanned")} {run.scanned ?? "–"} · {p.t("changed")} {run.changed ?? "–"} · {p.t("failed")} {run.failed ?? "–"}</span>
            </b>
          ) : (
            <b>{p.t("none")}</b>
          )}
        </div>
        <div class="card">
          <span class="muted">{p.t("lastBillCheck")}</span>
          {bill ? (
            <b>
              <a href={`/admin/ui/bills?date=${bill.billDate}`}>{bill.billDate}</a> <span class="muted">{billStatus ?? ""}</span>
            </b>
          ) : (
            <b>{p.t("none")}</b>
          )}
        </div>
      </div>
    </Layout>
  );
};

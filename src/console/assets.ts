/**
 * @module console/assets — the console's one stylesheet and one script, served by the Worker
 * itself (`/admin/static/…`): no CDN, no build step, and the CSP can say `script-src 'self'`.
 * The script only improves pages that already work without it: it checks a refund amount
 * against the refundable maximum before the form leaves (the server checks again), asks before
 * destructive actions, and disables a form's button once it is submitted.
 */
export const CONSOLE_CSS = `
:root{--g:#07c160;--g2:#06ad56;--ink:#1d2129;--mute:#86909c;--line:#e5e6eb;--bg:#f5f6f8;--red:#f53f3f;--amber:#ff7d00;--blue:#165dff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.6 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:var(--ink);background:var(--bg)}
a{color:var(--blue);text-decoration:none}a:hover{text-decoration:underline}
header.top{display:flex;align-items:center;gap:24px;background:#fff;border-bottom:1px solid var(--line);padding:0 24px;height:56px}
header.top .brand{font-weight:700;color:var(--g);font-size:16px;white-space:nowrap}
header.top nav{display:flex;gap:4px;flex:1}
header.top nav a{padding:6px 12px;border-radius:6px;color:var(--ink)}
header.top nav a.on{background:#e8f8ef;color:var(--g2);font-weight:600}
header.top .tools{display:flex;gap:12px;align-items:center}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:20px;margin:0 0 16px}h2{font-size:16px;margin:24px 0 12px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:16px}
.kpi h3{margin:0 0 8px;font-size:14px;color:var(--mute);font-weight:500}
.kpi dl{display:grid;grid-template-columns:auto 1fr;gap:4px 16px;margin:0}
.kpi dt{color:var(--mute)}.kpi dd{margin:0;text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
.kpi dd.big{font-size:20px;color:var(--g2)}
.facts{display:grid;grid-template-columns:repeat(3,1fr);gap:16px}
.facts .card{margin:0}.facts b{display:block;font-size:18px}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{padding:8px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#fafbfc;color:var(--mute);font-weight:500;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#f2f3f5;white-space:nowrap}
.badge.PAID,.badge.SUCCESS{background:#e8f8ef;color:var(--g2)}
.badge.PAYING,.badge.CREATED,.badge.PROCESSING{background:#e8f3ff;color:var(--blue)}
.badge.PARTIALLY_REFUNDED,.badge.REFUNDED,.badge.ABNORMAL{background:#fff3e8;color:var(--amber)}
.badge.CLOSED{background:#f2f3f5;color:var(--mute)}
.badge.SHIPPED,.badge.RECEIVED,.badge.SETTLED{background:#e8f8ef;color:var(--g2)}
.badge.UPLOADING{background:#e8f3ff;color:var(--blue)}.badge.FAILED{background:#ffece8;color:var(--red)}
form.inline{display:flex;gap:8px;flex-wrap:wrap;align-items:end;margin:0}
label{display:flex;flex-direction:column;gap:4px;color:var(--mute);font-size:12px}
input,select,textarea{font:inherit;padding:6px 10px;border:1px solid var(--line);border-radius:6px;background:#fff;color:var(--ink)}
input:focus,select:focus,textarea:focus{outline:2px solid #b7ebcc;border-color:var(--g)}
button{font:inherit;padding:6px 16px;border-radius:6px;border:1px solid var(--g);background:var(--g);color:#fff;cursor:pointer}
button:hover{background:var(--g2)}button:disabled{opacity:.6;cursor:default}
button.plain{background:#fff;color:var(--ink);border-color:var(--line)}
button.danger{background:#fff;color:var(--red);border-color:#fbb}
.notice{padding:10px 14px;border-radius:8px;margin-bottom:16px;background:#e8f8ef;color:var(--g2)}
.notice.error{background:#ffece8;color:var(--red)}
.field-error{color:var(--red);font-size:12px;min-height:18px}
.muted{color:var(--mute)}
.split{display:grid;grid-template-columns:2fr 1fr;gap:16px}
.signin{max-width:380px;margin:12vh auto}.signin form{display:flex;flex-direction:column;gap:12px}
.chart text{font-size:10px;fill:#86909c}
.legend{font-size:12px;font-weight:400;margin-left:12px}.legend.paid{color:#07c160}.legend.refunded{color:#ff7d00}
.pager{display:flex;gap:16px;margin-top:12px}
ol.timeline{list-style:none;margin:0;padding:0}
ol.timeline li{padding:6px 0 6px 16px;border-left:2px solid var(--line);position:relative}
ol.timeline li::before{content:"";position:absolute;left:-5px;top:13px;width:8px;height:8px;border-radius:50%;background:var(--g)}
ol.timeline time{color:var(--mute);margin-right:8px;font-variant-numeric:tabular-nums}
`;

export const CONSOLE_JS = `"use strict";
(function () {
  var YUAN = /^(\\d{1,9})(?:\\.(\\d{1,2}))?$/;
  function toFen(text) {
    var m = YUAN.exec(String(text).trim());
    if (!m) return null;
    return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    var amount = form.querySelector("[data-max-fen]");
    if (amount) {
      var out = form.querySelector("[data-refund-error]");
      var fen = toFen(amount.value);
      var msg = fen === null || fen <= 0 ? amount.getAttribute("data-msg-invalid")
        : fen > Number(amount.getAttribute("data-max-fen")) ? amount.getAttribute("data-msg-too-much") : "";
      if (out) out.textContent = msg || "";
      if (msg) { e.preventDefault(); amount.focus(); return; }
    }
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { e.preventDefault(); return; }
    var buttons = form.querySelectorAll("button[type=submit]");
    setTimeout(function () { for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true; }, 0);
  });
})();
`;

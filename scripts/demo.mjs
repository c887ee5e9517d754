#!/usr/bin/env node
// `npm run demo`: a narrated end-to-end run against the locally running system (`npm run dev` in
// another terminal): log in with a simulator code → list products → create an order → "pay" it in
// the simulator as wx.requestPayment would → wait for the notification → order PAID and fulfilled →
// ship it (admin API → WeChat's shipping-info management) → the buyer confirms receipt → WeChat
// settles (both pushed to /v1/wx/push) → partial refund via the admin API → PARTIALLY_REFUNDED. Every step prints its HTTP exchanges
// (method, path, status, time, a short body excerpt with tokens and signatures abbreviated).
// Exits 1 as soon as anything does not behave as documented in SPEC.md §3.
//
//   WORKER_URL   default http://127.0.0.1:8787
//   SIM_URL      default http://127.0.0.1:8788
//   ADMIN_TOKEN  default: read from .dev.vars (or the file named by DEV_VARS)
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const WORKER = (process.env.WORKER_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const SIM = (process.env.SIM_URL ?? "http://127.0.0.1:8788").replace(/\/+$/, "");
const PAID_WAIT_MS = Number(process.env.DEMO_WAIT_MS ?? 30_000);

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (color ? `\x1b[${code}m${s}\x1b[0m` : String(s));
const bold = paint("1");
const dim = paint("2");
const green = paint("32");
const red = paint("31");
const cyan = paint("36");

const started = Date.now();
let stepNo = 0;
let stepStarted = 0;

function step(title, what) {
  stepNo += 1;
  stepStarted = Date.now();
  console.log(`\n${bold(`${stepNo}. ${title}`)}`);
  if (what) console.log(dim(`   ${what}`));
}
function ok(msg) {
  console.log(`   ${green("✓")} ${msg} ${dim(`(${Date.now() - stepStarted} ms)`)}`);
}
function note(msg) {
  console.log(`   ${dim(msg)}`);
}

class DemoFailure extends Error {}
function fail(msg) {
  throw new DemoFailure(msg);
}
function expect(cond, msg) {
  if (!cond) fail(msg);
}

/** Secrets and one-time values are shown as `abcdef…(N chars)`, never in full. */
const SECRET_FIELDS = new Set(["token", "paySign", "nonceStr", "package", "authorization", "adminToken", "session_key"]);
// `code` is also the name of every error code: only long values (login codes) are secrets.
const isSecret = (k, v) => typeof v === "string" && (SECRET_FIELDS.has(k) || (k === "code" && v.length >= 16));
const abbreviate = (s) => (s.length <= 10 ? `${s.slice(0, 2)}…` : `${s.slice(0, 6)}…(${s.length} chars)`);

function excerpt(body, max = 150) {
  if (body === undefined || body === null || body === "") return "";
  let text;
  if (typeof body === "string") text = body;
  else text = JSON.stringify(body, (k, v) => (isSecret(k, v) ? abbreviate(v) : v));
  text = text.replace(/\s+/g, " ");
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------
async function http(base, method, path, { body, headers = {}, quiet = false } = {}) {
  const t0 = Date.now();
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(15_000) };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`${base}${path}`, init);
  } catch (e) {
    fail(`${method} ${base}${path}: no answer (${e.cause?.code ?? e.message})`);
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const ms = Date.now() - t0;
  if (!quiet) {
    const who = base === SIM ? cyan("sim") : cyan("api");
    const shown = Object.keys(headers).filter((h) => h.toLowerCase() !== "authorization");
    const extra = shown.length ? dim(` [${shown.map((h) => `${h}: ${headers[h]}`).join(", ")}]`) : "";
    const st = res.status < 400 ? green(res.status) : red(res.status);
    console.log(`   ${who} ${method} ${path}${extra} → ${st} ${dim(`${ms} ms`)}  ${dim(excerpt(json ?? text))}`);
  }
  const fromWorker = base === WORKER && !path.startsWith("/cdn-cgi/");
  return { status: res.status, json, text, headers: res.headers, ms, fromWorker, path };
}

function expectStatus(r, want, what) {
  const wants = Array.isArray(want) ? want : [want];
  if (!wants.includes(r.status)) {
    const err = r.json?.error ? ` ${r.json.error.code}: ${r.json.error.message}` : ` ${excerpt(r.text, 300)}`;
    const hint =
      r.status === 401 && r.path.startsWith("/admin/")
        ? "\n  The ADMIN_TOKEN used here is not the running Worker's: if .dev.vars was regenerated, restart `npm run dev`."
        : r.status === 404 && r.json?.error?.message?.startsWith("no route")
          ? "\n  The running Worker does not have this route: restart `npm run dev` to pick up the current code."
          : "";
    fail(`${what}: expected HTTP ${wants.join(" or ")}, got ${r.status}.${err}${hint}`);
  }
  if (r.fromWorker && !r.headers.get("x-request-id")) fail(`${what}: the answer has no X-Request-Id header`);
  if (r.fromWorker && r.json?.error && r.json.error.requestId !== r.headers.get("x-request-id")) {
    fail(`${what}: error.requestId differs from the X-Request-Id header`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const isInt = (v) => Number.isInteger(v);
const isTime = (v) => typeof v === "string" && !Number.isNaN(Date.parse(v)) && /Z$|[+-]\d\d:\d\d$/.test(v);

function checkOrder(o, what) {
  expect(o && typeof o === "object", `${what}: no order in the answer`);
  for (const f of ["id", "outTradeNo", "status", "currency", "description"]) expect(typeof o[f] === "string", `${what}: order.${f} is not a string`);
  for (const f of ["amount", "refundedAmount"]) expect(isInt(o[f]), `${what}: order.${f} is not an integer (fen)`);
  expect(Array.isArray(o.items) && o.items.length > 0, `${what}: order.items is empty`);
  expect(isTime(o.createdAt) && isTime(o.expiresAt), `${what}: order.createdAt/expiresAt are not RFC 3339 times`);
  expect(/^[0-9A-Za-z_-]{6,32}$/.test(o.outTradeNo), `${what}: order.outTradeNo ${o.outTradeNo} breaks WeChat's rules`);
}

function checkPayment(p, what) {
  expect(p && typeof p === "object", `${what}: no payment in the answer`);
  const keys = Object.keys(p).sort().join(",");
  expect(keys === "nonceStr,package,paySign,signType,timeStamp", `${what}: payment must have exactly the five wx.requestPayment fields, has ${keys}`);
  expect(p.signType === "RSA", `${what}: payment.signType must be "RSA"`);
  expect(/^\d{10}$/.test(p.timeStamp), `${what}: payment.timeStamp must be 10 digits`);
  expect(/^prepay_id=/.test(p.package), `${what}: payment.package must be prepay_id=…`);
}

// ---------------------------------------------------------------------------------------------
// Pre-flight: is the system running?
// ---------------------------------------------------------------------------------------------
async function reachable(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

function adminToken() {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const path = process.env.DEV_VARS ?? join(root, ".dev.vars");
  if (!existsSync(path)) return null;
  const m = /^\s*ADMIN_TOKEN\s*=\s*"?([^"\r\n]*)"?\s*$/m.exec(readFileSync(path, "utf8"));
  return m ? m[1] : null;
}

async function preflight() {
  const [w, s] = await Promise.all([reachable(`${WORKER}/healthz`), reachable(`${SIM}/__sim`)]);
  const problems = [];
  if (w === null) problems.push(`the Worker does not answer at ${WORKER}`);
  else if (w !== 200) problems.push(`the Worker at ${WORKER} answers GET /healthz with ${w} (is D1 migrated?)`);
  if (s === null) problems.push(`the WeChat simulator does not answer at ${SIM}`);
  else if (s !== 200) problems.push(`${SIM}/__sim answers ${s}: is that the WeChat simulator?`);
  if (problems.length) {
    console.error(red("✗ The local system is not running:"));
    for (const p of problems) console.error(`  - ${p}`);
    console.error(`\n  Start it in another terminal with\n\n      ${bold("npm run dev")}\n\n  wait for "Ready on http://127.0.0.1:8787", then run ${bold("npm run demo")} again.`);
    console.error(dim("  (Other ports? set WORKER_URL and SIM_URL.)"));
    process.exit(1);
  }
  const token = adminToken();
  if (!token) {
    console.error(red("✗ No ADMIN_TOKEN: .dev.vars is missing or has none."));
    console.error(`  ${bold("npm run dev")} generates .dev.vars; or set ADMIN_TOKEN (and DEV_VARS for another file).`);
    process.exit(1);
  }
  return token;
}

// ---------------------------------------------------------------------------------------------
// The story
// ---------------------------------------------------------------------------------------------
async function main() {
  console.log(bold("wxpay-edge demo: login → order → pay → notification → fulfilment → ship → receive → settle → refund"));
  console.log(dim(`Worker ${WORKER}   WeChat simulator ${SIM}`));
  const ADMIN = await preflight();
  const admin = { authorization: `Bearer ${ADMIN}` };

  // 1 ─ login
  step("wx.login → a one-time code", "In the mini program wx.login() gives a code; here the simulator mints one for a new WeChat user.");
  const minted = await http(SIM, "POST", "/__sim/login-code", { body: {} });
  expectStatus(minted, 200, "simulator login code");
  expect(typeof minted.json?.code === "string", "the simulator returned no code");
  ok(`code for WeChat user ${minted.json.openid}`);

  step("POST /v1/auth/login", "The Worker swaps the code at jscode2session for the openid and session_key, and answers a session token.");
  const login = await http(WORKER, "POST", "/v1/auth/login", { body: { code: minted.json.code } });
  expectStatus(login, 200, "login");
  const { token, expiresIn, user } = login.json ?? {};
  expect(typeof token === "string" && token.length > 20, "login: no token");
  expect(isInt(expiresIn) && expiresIn > 0, "login: expiresIn is not a positive integer");
  expect(typeof user?.id === "string", "login: no user.id");
  expect(user.openid === minted.json.openid, `login: user.openid ${user?.openid} is not the simulator's ${minted.json.openid}`);
  expect(!JSON.stringify(login.json).includes("session_key"), "login: the answer leaks session_key");
  ok(`user ${user.id}, token valid ${expiresIn} s`);
  const auth = { authorization: `Bearer ${token}` };

  // 2 ─ products
  step("GET /v1/products", "The catalogue: the server, never the client, decides prices (integer fen).");
  const products = await http(WORKER, "GET", "/v1/products");
  expectStatus(products, 200, "products");
  const list = products.json?.products;
  // The demo catalogue is a seed (npm run dev inserts it), never a migration: a deployed database has none.
  expect(
    Array.isArray(list) && list.length > 0,
    "products: the catalogue is empty — insert the demo catalogue with `npx wrangler d1 execute DB --local --file seeds/demo-catalogue.sql` (npm run dev does it when it starts)",
  );
  for (const p of list) {
    expect(typeof p.id === "string" && typeof p.name === "string" && isInt(p.price) && p.price > 0 && typeof p.currency === "string", `products: malformed product ${excerpt(p)}`);
  }
  const product = list[0];
  ok(`${list.length} products; buying 2 × ${product.name} at ${product.price} fen`);

  // 3 ─ order
  step("POST /v1/orders (Idempotency-Key)", "The Worker prices the items, stores the order, calls JSAPI prepay and signs wx.requestPayment parameters.");
  const key = `demo-${randomUUID()}`;
  const body = { items: [{ productId: product.id, quantity: 2 }] };
  const created = await http(WORKER, "POST", "/v1/orders", { body, headers: { ...auth, "Idempotency-Key": key } });
  expectStatus(created, 201, "create order");
  const order = created.json?.order;
  checkOrder(order, "create order");
  checkPayment(created.json.payment, "create order");
  expect(order.status === "PAYING", `create order: status ${order.status}, expected PAYING`);
  expect(order.amount === product.price * 2, `create order: amount ${order.amount}, expected ${product.price * 2}`);
  expect(order.refundedAmount === 0 && order.paidAt === null && order.transactionId === null, "create order: a new order has refunds, paidAt or a transaction id");
  ok(`order ${order.id} (${order.outTradeNo}) PAYING, ${order.amount} fen`);

  note("A retry with the same key and body (e.g. after a network error) must return the same order:");
  const again = await http(WORKER, "POST", "/v1/orders", { body, headers: { ...auth, "Idempotency-Key": key } });
  expectStatus(again, 200, "repeat create order");
  expect(again.json?.order?.id === order.id, `repeat create order: another order ${again.json?.order?.id}`);
  checkPayment(again.json.payment, "repeat create order");
  ok("same order, fresh payment parameters, no second charge");

  // 4 ─ pay
  step("wx.requestPayment(payment) — the user pays", "The simulator plays the WeChat client: it verifies paySign like WeChat does, marks the transaction paid and sends the notification.");
  const paid = await http(SIM, "POST", "/__sim/pay", { body: { payment: created.json.payment, openid: user.openid } });
  expectStatus(paid, 200, "simulator pay");
  expect(paid.json?.ok === true && paid.json.errMsg === "requestPayment:ok", `simulator pay: ${paid.json?.errMsg}`);
  ok(`requestPayment:ok, WeChat transaction ${paid.json.transactionId}`);

  // 5 ─ wait for the notification
  step("Wait for PAID", "Never trust the client: the mini program asks the server. Poll GET /v1/orders/:id; if the notification is late, ?sync=true asks WeChat.");
  const deadline = Date.now() + PAID_WAIT_MS;
  let current = order;
  let polls = 0;
  let usedSync = false;
  while (current.status !== "PAID" && Date.now() < deadline) {
    polls += 1;
    const sync = polls > 10; // ~5 s of plain polling first; sync is rate-limited to once per 5 s per order
    usedSync ||= sync;
    const r = await http(WORKER, "GET", `/v1/orders/${order.id}${sync ? "?sync=true" : ""}`, { headers: auth, quiet: polls > 1 && !sync && current.status === "PAYING" });
    expectStatus(r, 200, "read order");
    checkOrder(r.json?.order, "read order");
    current = r.json.order;
    expect(["PAYING", "PAID"].includes(current.status), `read order: status ${current.status} while waiting for PAID`);
    if (current.status !== "PAID") await sleep(sync ? 2_500 : 500);
  }
  expect(current.status === "PAID", `the order is still ${current.status} ${PAID_WAIT_MS / 1000} s after the payment: no notification arrived and ?sync=true did not settle it`);
  if (polls > 1) await http(WORKER, "GET", `/v1/orders/${order.id}`, { headers: auth });
  expect(current.transactionId === paid.json.transactionId, `paid order: transactionId ${current.transactionId}, the simulator said ${paid.json.transactionId}`);
  expect(isTime(current.paidAt), "paid order: paidAt is not an RFC 3339 time");
  ok(`PAID at ${current.paidAt} after ${polls} poll(s)${usedSync ? " (settled by ?sync=true)" : " (by the notification)"}`);

  // 6 ─ admin view, fulfilment
  step("GET /admin/orders/:id — history, notification, fulfilment", "The admin API (bearer ADMIN_TOKEN from .dev.vars) shows what happened; the fulfilment hook (src/fulfilment/hook.ts) ran once.");
  let detail;
  for (let i = 0; i < 20; i += 1) {
    const r = await http(WORKER, "GET", `/admin/orders/${order.id}`, { headers: admin, quiet: i > 0 });
    expectStatus(r, 200, "admin order");
    detail = r.json;
    if (detail?.fulfilment?.status === "DONE") break;
    if (i === 8) {
      note("fulfilment not done yet: running the cron job (it retries pending fulfilment)");
      await http(WORKER, "GET", `/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`);
    }
    await sleep(500);
  }
  checkOrder(detail?.order, "admin order");
  expect(detail.order.status === "PAID", `admin order: status ${detail.order.status}`);
  expect(Array.isArray(detail.history) && detail.history.some((h) => h.from === "PAYING" && h.to === "PAID"), "admin order: no PAYING → PAID in the history");
  expect(Array.isArray(detail.notifications), "admin order: no notifications list");
  expect(Array.isArray(detail.refunds) && detail.refunds.length === 0, "admin order: refunds before any refund");
  expect(Array.isArray(detail.flags), "admin order: no flags list");
  for (const h of detail.history) note(`history  ${h.from} → ${h.to}  by ${h.source}  at ${h.at}`);
  for (const n of detail.notifications) note(`notified ${n.eventType}  ${n.outcome}  at ${n.receivedAt}`);
  expect(detail.fulfilment && typeof detail.fulfilment === "object", "admin order: no fulfilment record for a PAID order");
  expect(detail.fulfilment.status === "DONE", `admin order: fulfilment is ${detail.fulfilment.status} (last error: ${detail.fulfilment.lastError})`);
  note(`fulfilment ${detail.fulfilment.status} after ${detail.fulfilment.attempts} attempt(s) at ${detail.fulfilment.doneAt}`);
  ok(`PAID, ${detail.history.length} state change(s), ${detail.notifications.length} notification(s), fulfilled, ${detail.flags.length} flag(s)`);

  // 7 ─ shipping (SPEC §9): ship → the buyer confirms receipt → WeChat settles
  step("POST /admin/orders/:id/shipping — ship it", "Shipping-info management (发货信息管理): the Worker uploads the parcel to WeChat (upload_shipping_info, with an access token from stable_token).");
  const shipped = await http(WORKER, "POST", `/admin/orders/${order.id}/shipping`, {
    body: { logisticsType: "express", parcels: [{ trackingNo: `YT${Date.now()}`, expressCompany: "YTO" }] },
    headers: { ...admin, "Idempotency-Key": `demo-ship-${randomUUID()}` },
  });
  expectStatus(shipped, 202, "ship");
  let shipping = shipped.json?.shipping;
  expect(shipping && ["SHIPPED", "UPLOADING"].includes(shipping.status), `ship: status ${shipping?.status} (last error: ${shipping?.lastError})`);
  const shippingOf = async (want, what) => {
    for (let i = 0; i < 20 && shipping.status !== want; i += 1) {
      if (i === 4 && want === "SHIPPED") {
        note("upload still pending: running the cron job (it retries uploads)");
        await http(WORKER, "GET", `/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`);
      }
      await sleep(500);
      const r = await http(WORKER, "GET", `/admin/orders/${order.id}`, { headers: admin, quiet: i > 0 });
      expectStatus(r, 200, "admin order");
      shipping = r.json.shipping;
    }
    expect(shipping.status === want, `shipping is ${shipping.status}, expected ${want} (${what}; last error: ${shipping.lastError})`);
  };
  await shippingOf("SHIPPED", "WeChat never accepted the upload");
  const tracked = await http(WORKER, "GET", `/v1/orders/${order.id}`, { headers: auth });
  expectStatus(tracked, 200, "read order");
  expect(tracked.json?.order?.shipping?.status === "SHIPPED", "the user's view of the order has no shipping");
  expect(!JSON.stringify(tracked.json.order.shipping).includes("contact"), "the user's view of shipping carries a contact");
  ok(`SHIPPED: ${shipping.parcels.map((p) => `${p.expressCompany} ${p.trackingNo}`).join(", ")}; the mini program shows the tracking number`);

  step("The buyer confirms receipt", "In WeChat the buyer taps 确认收货; WeChat pushes trade_manage_order_settlement to /v1/wx/push and the Worker asks get_order (never trusting the push's confirm_receive_method).");
  await sleep(1_100); // a later CreateTime than the "shipped" push: WeChat's pushes are deduplicated by event, transaction and second
  const confirmed = await http(SIM, "POST", `/__sim/wx/shipping/${current.transactionId}/confirm-receipt`, { body: {} });
  expectStatus(confirmed, 200, "simulator confirm receipt");
  await shippingOf("RECEIVED", "no settlement push reached /v1/wx/push — is message push configured (WX_PUSH_TOKEN, WX_PUSH_AES_KEY)?");
  ok(`RECEIVED at ${shipping.receivedAt}`);

  step("WeChat settles the payment", "The money leaves the frozen state; another push, another get_order.");
  await sleep(1_100);
  const settledAtWechat = await http(SIM, "POST", `/__sim/wx/shipping/${current.transactionId}/settle`, { body: {} });
  expectStatus(settledAtWechat, 200, "simulator settle");
  await shippingOf("SETTLED", "no settlement push reached /v1/wx/push");
  ok(`SETTLED at ${shipping.settledAt}`);

  // 8 ─ refund
  const refundAmount = Math.max(1, Math.floor(order.amount / 3));
  step(`POST /admin/orders/:id/refunds — refund ${refundAmount} of ${order.amount} fen`, "Partial refunds are allowed; the total never exceeds what was paid.");
  const rf = await http(WORKER, "POST", `/admin/orders/${order.id}/refunds`, {
    body: { amount: refundAmount, reason: "demo: partial refund" },
    headers: { ...admin, "Idempotency-Key": `demo-refund-${randomUUID()}` },
  });
  expectStatus(rf, 201, "refund");
  const refund = rf.json?.refund;
  expect(refund && typeof refund.id === "string" && typeof refund.outRefundNo === "string", "refund: no refund id / outRefundNo");
  expect(refund.orderId === order.id && refund.amount === refundAmount, "refund: orderId or amount differ from the request");
  expect(["PROCESSING", "SUCCESS"].includes(refund.status), `refund: status ${refund.status}`);
  ok(`refund ${refund.id} (${refund.outRefundNo}) ${refund.status}`);

  if (refund.status === "PROCESSING") {
    step("WeChat settles the refund", "Refunds take a while at WeChat; the simulator settles it now and sends REFUND.SUCCESS to the notify URL.");
    const st = await http(SIM, "GET", `/__sim/refunds`);
    expectStatus(st, 200, "simulator refunds");
    const simRefund = (st.json?.refunds ?? []).find((r) => r.outRefundNo === refund.outRefundNo);
    expect(simRefund, `the simulator has no refund ${refund.outRefundNo}`);
    if (simRefund.status === "PROCESSING") {
      const settled = await http(SIM, "POST", `/__sim/refunds/${encodeURIComponent(refund.outRefundNo)}/settle`, { body: { status: "SUCCESS" } });
      expectStatus(settled, 200, "simulator settle refund");
    }
    ok("settled at WeChat");
  }

  // 9 ─ final state
  step("Wait for PARTIALLY_REFUNDED", "The REFUND.SUCCESS notification updates the refund and the order.");
  const until = Date.now() + PAID_WAIT_MS;
  let final;
  let reconciled = false;
  let rounds = 0;
  while (Date.now() < until) {
    rounds += 1;
    const r = await http(WORKER, "GET", `/admin/orders/${order.id}`, { headers: admin, quiet: rounds > 1 });
    expectStatus(r, 200, "admin order");
    final = r.json;
    const rr = final.refunds?.find((x) => x.id === refund.id);
    if (final.order?.status === "PARTIALLY_REFUNDED" && rr?.status === "SUCCESS") break;
    if (!reconciled && Date.now() > until - PAID_WAIT_MS / 2) {
      reconciled = true;
      note("no refund notification yet: POST /admin/reconcile (queries PROCESSING refunds)");
      const rec = await http(WORKER, "POST", "/admin/reconcile", { headers: admin });
      expectStatus(rec, 200, "reconcile");
    }
    await sleep(500);
  }
  if (rounds > 1) await http(WORKER, "GET", `/admin/orders/${order.id}`, { headers: admin });
  const finalRefund = final?.refunds?.find((x) => x.id === refund.id);
  expect(finalRefund?.status === "SUCCESS", `refund is ${finalRefund?.status} after ${PAID_WAIT_MS / 1000} s`);
  expect(isTime(finalRefund.settledAt), "refund: settledAt is not an RFC 3339 time");
  expect(final.order.status === "PARTIALLY_REFUNDED", `order is ${final.order.status}, expected PARTIALLY_REFUNDED`);
  expect(final.order.refundedAmount === refundAmount, `order.refundedAmount ${final.order.refundedAmount}, expected ${refundAmount}`);
  const mine = await http(WORKER, "GET", `/v1/orders/${order.id}`, { headers: auth });
  expectStatus(mine, 200, "read order");
  expect(mine.json?.order?.status === "PARTIALLY_REFUNDED" && mine.json.order.refundedAmount === refundAmount, "the user's view of the order is not PARTIALLY_REFUNDED");
  ok(`PARTIALLY_REFUNDED: ${refundAmount} of ${order.amount} fen refunded, refund SUCCESS at ${finalRefund.settledAt}`);

  console.log(`\n${green(bold("✓ demo passed"))} ${dim(`— ${stepNo} steps in ${((Date.now() - started) / 1000).toFixed(1)} s`)}`);
  console.log(dim(`  Look around: ${WORKER}/docs (API), ${SIM}/__sim/transactions (what WeChat saw), src/fulfilment/hook.ts (your code).`));
  const tokenFrom = process.env.ADMIN_TOKEN ? "the ADMIN_TOKEN you exported" : `ADMIN_TOKEN in ${process.env.DEV_VARS ?? ".dev.vars"} (grep ADMIN_TOKEN ${process.env.DEV_VARS ?? ".dev.vars"})`;
  console.log(`\n${bold("Operator console")}: ${cyan(`${WORKER}/admin`)} — sign in with ${tokenFrom}; this order is at ${cyan(`${WORKER}/admin/ui/orders/${order.id}`)}`);
}

try {
  await main();
} catch (e) {
  if (e instanceof DemoFailure) {
    console.error(`\n${red(bold(`✗ step ${stepNo} failed:`))} ${e.message}`);
    console.error(dim(`  Server logs are in the \`npm run dev\` terminal. Full run took ${((Date.now() - started) / 1000).toFixed(1)} s.`));
  } else {
    console.error(`\n${red(bold("✗ demo crashed:"))}`, e);
  }
  process.exit(1);
}

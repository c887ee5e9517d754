/**
 * The bench's second Worker (never deployed; started only by `npm run bench`). It shares the
 * production Worker's schema and kind of data and offers:
 *
 *  - `/floor/<route>`: one bare route per measured production route, issuing the same D1
 *    statements (same number, same kind, same round trips: single queries vs batches) and
 *    nothing else — no validation, no crypto, no JSON beyond reading its parameters. The CPU
 *    of this Worker's workerd per request is the route's "D1 floor".
 *  - `/crypto`: the crypto floor measured inside workerd with performance.now() loops (the local
 *    workerd clock advances during CPU work): RSA-2048 PKCS#1 v1.5 SHA-256 sign and verify,
 *    AES-256-GCM decrypt of ~1 KB with AAD, PKCS#8 import.
 *  - `/count/*`: the production app (src/index.ts) with D1 round trips counted (the prototypes
 *    of D1Database/D1PreparedStatement are wrapped while counting is on). Used in a short
 *    sequential pass to report, per route, how many D1 round trips a request makes and which
 *    statements (waitUntil work included).
 *  - `/seed/sql`, `/stats`, `/explain`: bulk data (bench/lib/seedsql.mjs), counts, query plans.
 *
 * Its D1 database is its own (another database id in the same `--persist-to` directory, same
 * migrations): two workerd processes must not share one SQLite file (locally, writes from one
 * stall the other).
 */
import prod from "../src/index";

type Json = Record<string, unknown>;
const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { "content-type": "application/json" } });

// ---------------------------------------------------------------------------------------------
// D1 round-trip counting (only for /count/* requests, sent one at a time by the bench)
// ---------------------------------------------------------------------------------------------

interface CountLog {
  roundTrips: number;
  statements: number;
  trace: string[];
}
let counting: CountLog | null = null;
let patched = false;

const sqlOf = (s: unknown): string => {
  const t = (s as { statement?: unknown; sql?: unknown }) ?? {};
  const text = typeof t.statement === "string" ? t.statement : typeof t.sql === "string" ? t.sql : "?";
  return text.replace(/\s+/g, " ").slice(0, 400);
};

function patchD1(db: D1Database): void {
  if (patched) return;
  patched = true;
  const dbProto = Object.getPrototypeOf(db) as Record<string, unknown>;
  const stmtProto = Object.getPrototypeOf(db.prepare("SELECT 1")) as Record<string, unknown>;
  const origBatch = dbProto.batch as (this: D1Database, s: D1PreparedStatement[]) => Promise<unknown>;
  dbProto.batch = function (this: D1Database, stmts: D1PreparedStatement[]) {
    if (counting) {
      counting.roundTrips++;
      counting.statements += stmts.length;
      counting.trace.push(`batch[${stmts.map(sqlOf).join(" ;; ")}]`);
    }
    return origBatch.call(this, stmts);
  };
  const origExec = dbProto.exec as (this: D1Database, q: string) => Promise<unknown>;
  dbProto.exec = function (this: D1Database, q: string) {
    if (counting) {
      counting.roundTrips++;
      counting.statements++;
      counting.trace.push(`exec ${q.slice(0, 200)}`);
    }
    return origExec.call(this, q);
  };
  for (const m of ["first", "run", "all", "raw"]) {
    const orig = stmtProto[m] as (this: D1PreparedStatement, ...a: unknown[]) => Promise<unknown>;
    stmtProto[m] = function (this: D1PreparedStatement, ...a: unknown[]) {
      if (counting) {
        counting.roundTrips++;
        counting.statements++;
        counting.trace.push(`${m} ${sqlOf(this)}`);
      }
      return orig.apply(this, a);
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Crypto floor
// ---------------------------------------------------------------------------------------------

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const enc = new TextEncoder();

async function cryptoFloor(iterations: number): Promise<Json> {
  const kp = (await crypto.subtle.generateKey(
    { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const pkcs8 = (await crypto.subtle.exportKey("pkcs8", kp.privateKey)) as ArrayBuffer;
  const message = enc.encode(`POST\n/v3/pay/transactions/jsapi\n1700000000\n${"n".repeat(32)}\n${"{}".padEnd(400, " ")}\n`);
  const aesKey = await crypto.subtle.importKey("raw", enc.encode("0123456789abcdef0123456789abcdef"), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  const iv = enc.encode("abcdefghijkl");
  const aad = enc.encode("transaction");
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, aesKey, enc.encode("x".repeat(1024)));
  const body = enc.encode(`1700000000\n${"n".repeat(32)}\n${"x".repeat(1400)}\n`);
  const sig = await crypto.subtle.sign(RSA, kp.privateKey, body);

  const time = async (n: number, f: () => Promise<unknown>): Promise<number> => {
    for (let i = 0; i < Math.min(20, n); i++) await f(); // warm up
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await f();
    return ((performance.now() - t0) * 1000) / n;
  };
  const signUs = await time(iterations, () => crypto.subtle.sign(RSA, kp.privateKey, message));
  const verifyUs = await time(iterations * 4, () => crypto.subtle.verify(RSA, kp.publicKey, sig, body));
  const decryptUs = await time(iterations * 4, () => crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad }, aesKey, ct));
  const importUs = await time(iterations, () => crypto.subtle.importKey("pkcs8", pkcs8, RSA, false, ["sign"]));
  const twoSignUs = await time(iterations, async () => {
    await crypto.subtle.sign(RSA, kp.privateKey, message);
    await crypto.subtle.sign(RSA, kp.privateKey, message);
  });
  // The clock must have moved, or the numbers are meaningless (production freezes it).
  if (!(signUs > 0)) throw new Error("performance.now() did not advance during CPU work");
  return { iterations, rsaSignUs: signUs, rsaVerifyUs: verifyUs, aesGcmDecrypt1KbUs: decryptUs, pkcs8ImportUs: importUs, twoSignaturesUs: twoSignUs };
}

// ---------------------------------------------------------------------------------------------
// Floor routes: the same statements as the production routes (see bench/README.md for the list
// and `d1` in results.json for the statements the production Worker was seen to issue).
// ---------------------------------------------------------------------------------------------

const ORDER_COLS =
  '"id", "user_id", "openid", "out_trade_no", "status", "amount", "currency", "description", "time_expire", "expires_at", "prepay_id", "prepay_at", "prepay_lock_until", "transaction_id", "paid_at", "refunded_amount", "idempotency_key", "request_hash", "last_query_at", "query_count", "next_check_at", "last_transition_id", "created_at", "updated_at", "prepay_issued_at", "notify_url"';
const ITEM_COLS = '"order_id", "line", "product_id", "name", "quantity", "unit_price"';
const WON = "EXISTS (SELECT 1 FROM orders WHERE id = ? AND last_transition_id = ?)";
/** auth/session.ts: the revocation check folded into get, list and create's first batch. */
const sessionLive = (db: D1Database, userId: string) =>
  db
    .prepare("SELECT 1 AS live FROM users WHERE id = ?1 AND (sessions_valid_after IS NULL OR sessions_valid_after <= ?2)")
    .bind(userId, Math.floor(Date.now() / 1000));

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Random [0-9A-Za-z]{n}, like src/lib/random (ids, out_trade_no, transition tokens). */
const rnd = (n: number): string => {
  const b = crypto.getRandomValues(new Uint8Array(n));
  let s = "";
  for (const x of b) s += ALNUM[x % 62];
  return s;
};
const uid = (p: string) => `${p}_${rnd(20)}`;

async function floorLogin(db: D1Database, b: Json): Promise<Response> {
  const openid = String(b.openid);
  const now = Date.now();
  // users/repository.upsertUser: one INSERT … ON CONFLICT (openid) DO UPDATE … RETURNING.
  await db
    .prepare(
      'insert into "users" ("id", "openid", "unionid", "session_key_enc", "created_at", "updated_at") values (?, ?, ?, ?, ?, ?) ' +
        'on conflict ("users"."openid") do update set "unionid" = coalesce(excluded.unionid, "users"."unionid"), "session_key_enc" = excluded.session_key_enc, "updated_at" = excluded.updated_at ' +
        'returning "id", "openid", "unionid", "sessions_valid_after"',
    )
    .bind(uid("usr"), openid, null, "x".repeat(64), now, now)
    .all();
  return new Response("{}", { headers: { "content-type": "application/json" } });
}

/** Create order, as production does it in the phase recorded as `variant`. */
async function floorCreate(db: D1Database, b: Json, variant: string): Promise<Response> {
  const userId = String(b.userId);
  const openid = String(b.openid);
  const productIds = (b.productIds as string[] | undefined) ?? ["prod_coffee"];
  const now = Date.now();
  // orders/service.readBeforeCreate: the catalogue read and the session check in one batch.
  const [products] = await db.batch<{ id: string; name: string; price: number }>([
    db
      .prepare(
        `select "id", "name", "description", "price", "currency" from "products" where ("products"."id" in (${productIds.map(() => "?").join(", ")}) and "products"."active" = ?)`,
      )
      .bind(...productIds, 1),
    sessionLive(db, userId),
  ]);
  const lines = products!.results;
  if (lines.length !== productIds.length) return json({ error: "no product" }, 400);
  const amount = lines.reduce((s, p, i) => s + p.price * (i + 1), 0);
  const id = uid("ord");
  const otn = `WXF${rnd(23)}`;
  const insert = db
    .prepare(
      `insert into "orders" (${ORDER_COLS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null, ?, null, null, ?, ?, ?, null, ?, null, null, ?, ?, null, ?)${variant === "returning" ? " returning *" : ""}`,
    )
    .bind(id, userId, openid, otn, "CREATED", amount, "CNY", lines.map((l) => l.name).join(", "), "2030-01-01T00:00:00+08:00", now + 1_800_000, now + 15_000, 0, null, null, 0, now, now, "http://127.0.0.1:8787/v1/pay/notify");
  const insertItems = db
    .prepare(`insert into "order_items" (${ITEM_COLS}) values ${lines.map(() => "(?, ?, ?, ?, ?, ?)").join(", ")}`)
    .bind(...lines.flatMap((p, i) => [id, i + 1, p.id, p.name, i + 1, p.price]));
  await db.batch([insert, insertItems]);
  if (variant !== "returning") {
    await db.prepare(`select ${ORDER_COLS} from "orders" where "orders"."id" = ? limit ?`).bind(id, 1).all();
  }
  const token = uid("trn");
  const later = Date.now();
  await db.batch([
    db
      .prepare(
        "UPDATE orders SET status = ?, last_transition_id = ?, updated_at = ?, prepay_id = ?, prepay_at = ?, prepay_issued_at = ?, prepay_lock_until = ?, next_check_at = ? WHERE id = ? AND status = ? RETURNING *",
      )
      // next_check_at NULL: the reconciler must not query WeChat about the floor's orders.
      .bind("PAYING", token, later, `wx${rnd(30)}`, later, later, null, null, id, "CREATED"),
    db
      .prepare(`INSERT INTO order_events (order_id, from_status, to_status, source, detail, at) SELECT ?, ?, ?, ?, ?, ? WHERE ${WON}`)
      .bind(id, "CREATED", "PAYING", "api", JSON.stringify({ event: "PREPAY_ISSUED", prepay: "first" }), later, id, token),
  ]);
  if (variant !== "returning") {
    await db.prepare(`select ${ITEM_COLS} from "order_items" where "order_items"."order_id" in (?) order by "order_items"."order_id", "order_items"."line"`).bind(id).all();
  }
  return json({ id });
}

async function floorNotify(db: D1Database, b: Json, ctx: ExecutionContext, fulfilmentVariant: string): Promise<Response> {
  const notificationId = String(b.notificationId);
  const outTradeNo = String(b.outTradeNo);
  const [seen, found] = await db.batch<Record<string, unknown>>([
    db.prepare('select "id" from "notifications" where "notifications"."id" = ?').bind(notificationId),
    db.prepare(`select ${ORDER_COLS} from "orders" where "orders"."out_trade_no" = ?`).bind(outTradeNo),
  ]);
  if ((seen?.results.length ?? 0) > 0) return new Response(null, { status: 204 });
  const order = found?.results[0] as { id: string; status: string } | undefined;
  if (!order) return json({ error: "no order" }, 400);
  const now = Date.now();
  const token = uid("trn");
  const id = order.id;
  const transactionId = String(b.transactionId);
  const guard = [id, token];
  await db.batch([
    db
      .prepare(
        "UPDATE orders SET status = ?, last_transition_id = ?, updated_at = ?, transaction_id = ?, paid_at = ?, next_check_at = ?, prepay_lock_until = ? WHERE id = ? AND status = ? RETURNING *",
      )
      .bind("PAID", token, now, transactionId, now, null, null, id, order.status),
    db
      .prepare(`INSERT INTO order_events (order_id, from_status, to_status, source, detail, at) SELECT ?, ?, ?, ?, ?, ? WHERE ${WON}`)
      .bind(id, order.status, "PAID", "notify", JSON.stringify({ event: "PAYMENT_CONFIRMED", tradeState: "SUCCESS", notificationId, transactionId, payerTotal: 1 }), now, ...guard),
    // "claimed": the outbox row inserted already claimed, and the lines read, in this batch
    // (the production notify since the claim moved into the paying batch).
    ...(fulfilmentVariant === "claimed"
      ? [
          db
            .prepare(
              `INSERT INTO fulfilments (order_id, status, attempts, next_attempt_at, lease_until, created_at) SELECT ?, 'RUNNING', 1, ?, ?, ? WHERE ${WON} ON CONFLICT (order_id) DO NOTHING`,
            )
            .bind(id, now, now + 300_000, now, ...guard),
          db.prepare(`SELECT ${ITEM_COLS} FROM order_items WHERE order_id = ? ORDER BY line`).bind(id),
        ]
      : [
          db
            .prepare(`INSERT INTO fulfilments (order_id, status, attempts, next_attempt_at, created_at) SELECT ?, 'PENDING', 0, ?, ? WHERE ${WON} ON CONFLICT (order_id) DO NOTHING`)
            .bind(id, now, now, ...guard),
        ]),
    db
      .prepare(
        // Stored only if the transition wins (SPEC §8: handled only together with its effect).
        `INSERT INTO notifications (id, event_type, order_id, out_trade_no, transaction_id, out_refund_no, outcome, serial, resource, received_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ${WON} ON CONFLICT (id) DO NOTHING`,
      )
      .bind(notificationId, "TRANSACTION.SUCCESS", id, outTradeNo, transactionId, null, "applied", "PUB_KEY_ID_X", String(b.resource ?? "{}"), now, ...guard),
  ]);
  ctx.waitUntil(floorFulfil(db, id, fulfilmentVariant));
  return new Response(null, { status: 204 });
}

/** fulfilment/runner.runFulfilment: claim → load the order and its lines → DONE ("claimed": DONE only). */
async function floorFulfil(db: D1Database, orderId: string, variant: string): Promise<void> {
  const now = Date.now();
  if (variant === "claimed") {
    await db
      .prepare("UPDATE fulfilments SET status = 'DONE', done_at = ?, lease_until = NULL, last_error = NULL WHERE order_id = ? AND status = 'RUNNING' AND attempts = ?")
      .bind(now, orderId, 1)
      .run();
    return;
  }
  const claim = db
    .prepare(
      'update "fulfilments" set "status" = ?, "attempts" = "fulfilments"."attempts" + 1, "lease_until" = ? where ("fulfilments"."order_id" = ? and (("fulfilments"."status" = ? and "fulfilments"."next_attempt_at" <= ?) or ("fulfilments"."status" = ? and "fulfilments"."lease_until" <= ?))) returning "attempts"',
    )
    .bind("RUNNING", now + 300_000, orderId, "PENDING", now, "RUNNING", now);
  const loadOrder = db
    .prepare('select "id", "out_trade_no", "user_id", "amount", "transaction_id" from "orders" where "orders"."id" = ?')
    .bind(orderId);
  const loadItems = db
    .prepare('select "product_id", "name", "quantity", "unit_price" from "order_items" where "order_items"."order_id" = ? order by "order_items"."line" asc')
    .bind(orderId);
  if (variant === "batched") {
    await db.batch([claim, loadOrder, loadItems]);
  } else {
    await claim.all();
    await loadOrder.all();
    await loadItems.all();
  }
  await db
    .prepare('update "fulfilments" set "status" = ?, "lease_until" = ?, "last_error" = ?, "done_at" = ? where ("fulfilments"."order_id" = ? and "fulfilments"."status" = ? and "fulfilments"."attempts" = ?)')
    .bind("DONE", null, null, Date.now(), orderId, "RUNNING", 1)
    .run();
}

async function floorGet(db: D1Database, q: URLSearchParams, variant: string): Promise<Response> {
  const id = q.get("id") ?? "";
  const user = q.get("user") ?? "";
  const byId = db.prepare(`select ${ORDER_COLS} from "orders" where ("orders"."id" = ? and "orders"."user_id" = ?) limit ?`).bind(id, user, 1);
  if (variant === "batched") {
    // The Worker's read batch also carries the order's shipping record (SPEC §9): same round trip.
    await db.batch([
      byId,
      db.prepare(`select ${ITEM_COLS} from "order_items" where "order_items"."order_id" = ? order by "order_items"."line"`).bind(id),
      db.prepare('select "status", "logistics_type" as "logisticsType", "parcels" from "shippings" where "order_id" = ?').bind(id),
      sessionLive(db, user),
    ]);
  } else {
    await byId.all();
    await db.prepare(`select ${ITEM_COLS} from "order_items" where "order_items"."order_id" in (?) order by "order_items"."order_id", "order_items"."line"`).bind(id).all();
  }
  return json({});
}

async function floorList(db: D1Database, q: URLSearchParams, variant: string): Promise<Response> {
  const user = q.get("user") ?? "";
  const limit = Number(q.get("limit") ?? 20);
  const list = db
    .prepare(`select ${ORDER_COLS} from "orders" where "orders"."user_id" = ? order by "orders"."created_at" desc, "orders"."id" desc limit ?`)
    .bind(user, limit + 1);
  if (variant === "batched") {
    await db.batch([
      list,
      db
        .prepare(
          `select ${ITEM_COLS} from "order_items" where "order_items"."order_id" in (select "id" from "orders" where "orders"."user_id" = ? order by "orders"."created_at" desc, "orders"."id" desc limit ?) order by "order_items"."order_id", "order_items"."line"`,
        )
        .bind(user, limit),
      sessionLive(db, user),
    ]);
    return json({});
  }
  const rows = await list.all<{ id: string }>();
  const ids = rows.results.slice(0, limit).map((r) => r.id);
  if (ids.length > 0) {
    await db
      .prepare(`select ${ITEM_COLS} from "order_items" where "order_items"."order_id" in (${ids.map(() => "?").join(", ")}) order by "order_items"."order_id", "order_items"."line"`)
      .bind(...ids)
      .all();
  }
  return json({});
}

// ---------------------------------------------------------------------------------------------
// Seeding (statements from bench/lib/seedsql.mjs, run as one batch) and stats
// ---------------------------------------------------------------------------------------------

async function seedSql(db: D1Database, b: Json): Promise<Response> {
  const started = Date.now();
  const statements = (b.sql as string[]).map((s) => db.prepare(s.replace(/;\s*$/, "")));
  await db.batch(statements);
  return json({ statements: statements.length, ms: Date.now() - started });
}

async function stats(db: D1Database): Promise<Response> {
  const rows = await db.batch<Record<string, unknown>>([
    db.prepare("SELECT status, COUNT(*) AS n FROM orders GROUP BY status"),
    db.prepare("SELECT outcome, COUNT(*) AS n FROM notifications GROUP BY outcome"),
    db.prepare("SELECT status, COUNT(*) AS n FROM fulfilments GROUP BY status"),
    db.prepare("SELECT COUNT(*) AS n FROM users"),
    db.prepare("SELECT COUNT(*) AS n FROM flags"),
    db.prepare("SELECT id, trigger, started_at, finished_at, report FROM reconcile_runs ORDER BY id DESC LIMIT 3"),
  ]).catch(async () =>
    db.batch<Record<string, unknown>>([
      db.prepare("SELECT status, COUNT(*) AS n FROM orders GROUP BY status"),
      db.prepare("SELECT outcome, COUNT(*) AS n FROM notifications GROUP BY outcome"),
      db.prepare("SELECT status, COUNT(*) AS n FROM fulfilments GROUP BY status"),
      db.prepare("SELECT COUNT(*) AS n FROM users"),
      db.prepare("SELECT COUNT(*) AS n FROM flags"),
    ]),
  );
  const [orders, notifications, fulfilments, users, flags, runs] = rows.map((r) => r.results);
  return json({ orders, notifications, fulfilments, users, flags, reconcileRuns: runs ?? [] });
}

async function explain(db: D1Database, b: Json): Promise<Response> {
  const r = await db.prepare(`EXPLAIN QUERY PLAN ${String(b.sql)}`).bind(...((b.params as unknown[]) ?? [])).all();
  return json(r.results);
}

// ---------------------------------------------------------------------------------------------

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url);
    const path = url.pathname;
    const db = env.DB;
    const body = async (): Promise<Json> => (req.method === "POST" ? ((await req.json()) as Json) : {});
    const variant = url.searchParams.get("variant") ?? "";

    if (path.startsWith("/count/")) {
      patchD1(db);
      const inner = new Request(new URL(path.slice("/count".length) + url.search, url.origin), req);
      return prod.fetch(inner, env, ctx);
    }
    switch (path) {
      case "/health":
        await db.prepare("SELECT 1").first();
        return json({ ok: true });
      case "/count-start":
        patchD1(db);
        counting = { roundTrips: 0, statements: 0, trace: [] };
        return json({ ok: true });
      case "/count-stop": {
        const c = counting;
        counting = null;
        return json(c);
      }
      case "/crypto":
        return json(await cryptoFloor(Number(url.searchParams.get("iterations") ?? 200)));
      case "/floor/login":
        return floorLogin(db, await body());
      case "/floor/create":
        return floorCreate(db, await body(), variant);
      case "/floor/notify":
        return floorNotify(db, await body(), ctx, variant);
      case "/floor/get":
        return floorGet(db, url.searchParams, variant);
      case "/floor/list":
        return floorList(db, url.searchParams, variant);
      case "/seed/sql":
        return seedSql(db, await body());
      case "/stats":
        return stats(db);
      case "/explain":
        return explain(db, await body());
      case "/sql": {
        const b = await body();
        const r = await db.prepare(String(b.sql)).bind(...((b.params as unknown[]) ?? [])).all();
        return json(r.results);
      }
      default:
        return json({ error: "not found" }, 404);
    }
  },
} satisfies ExportedHandler<Env>;

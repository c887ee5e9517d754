// Bulk rows for the bench as SQL (recursive-CTE INSERT … SELECT: 100 000 orders in about a
// second). The same statements go to the Worker's database through `wrangler d1 execute --local
// --file` while the Worker is stopped, and to the floor Worker's own database through its
// /seed/sql route. Values are the bench's own (numbers, [A-Za-z0-9_] strings): inlined.

const SERIES = (n) => `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${Number(n)})`;
const q = (v) => {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") return String(Math.trunc(v));
  if (!/^[A-Za-z0-9_+:.\- ]*$/.test(v)) throw new Error(`seed value not allowed: ${v}`);
  return `'${v}'`;
};

/** The bench users (ids and openids fixed up front; logging in keeps the stored id). */
export function usersSql(users, now) {
  return users.map((u) => `INSERT INTO users (id, openid, unionid, session_key_enc, created_at, updated_at) VALUES (${q(u.id)}, ${q(u.openid)}, NULL, 'sealed', ${now}, ${now}) ON CONFLICT (openid) DO NOTHING;`);
}

/**
 * `count` PAYING orders with `lines` lines each: ids `ord_<prefix>00000001…`, out_trade_no
 * `<prefix>00000001…` (as WeChat allows: [0-9A-Za-z_-], ≤ 32).
 */
export function payingSql({ prefix, count, userId, openid, amount = 1800, lines = 1, nextCheckAt = null, createdAt, expiresAt }) {
  const unit = Math.floor(amount / lines);
  if (unit * lines !== amount) throw new Error("amount must divide by lines");
  const out = [
    `INSERT INTO orders (id, user_id, openid, out_trade_no, status, amount, currency, description, time_expire, expires_at, prepay_id, prepay_at, next_check_at, created_at, updated_at) ` +
      `${SERIES(count)} SELECT 'ord_' || ${q(prefix)} || printf('%08d', n), ${q(userId)}, ${q(openid)}, ${q(prefix)} || printf('%08d', n), 'PAYING', ${amount}, 'CNY', 'Pour-over coffee', '2030-01-01T00:00:00+08:00', ${expiresAt}, 'wx_seed_' || n, ${createdAt}, ${q(nextCheckAt)}, ${createdAt} + n, ${createdAt} + n FROM s;`,
  ];
  for (let l = 1; l <= lines; l++) {
    out.push(
      `INSERT INTO order_items (order_id, line, product_id, name, quantity, unit_price) ${SERIES(count)} SELECT 'ord_' || ${q(prefix)} || printf('%08d', n), ${l}, ${q(l === 1 ? "prod_coffee" : `prod_line${l}`)}, 'Pour-over coffee', 1, ${unit} FROM s;`,
    );
  }
  return out;
}

/**
 * The scale data set: `users` users, `orders` orders spread over them (80 % PAID with their
 * notification, audit row and done fulfilment; 20 % CLOSED), created over the past 30 days.
 */
export function scaleSql({ users, orders, now }) {
  const t0 = now - 30 * 86_400_000;
  const at = (extra = 0) => `${t0} + n * 20${extra ? ` + ${extra}` : ""}`;
  return [
    `INSERT INTO users (id, openid, unionid, session_key_enc, created_at, updated_at) ${SERIES(users)} SELECT 'usr_SEED' || printf('%08d', n), 'oSeed' || printf('%08d', n), NULL, 'sealed', ${t0}, ${t0} FROM s;`,
    `INSERT INTO orders (id, user_id, openid, out_trade_no, status, amount, currency, description, time_expire, expires_at, prepay_id, prepay_at, transaction_id, paid_at, created_at, updated_at, last_transition_id) ` +
      `${SERIES(orders)} SELECT 'ord_SEED' || printf('%08d', n), 'usr_SEED' || printf('%08d', n % ${users} + 1), 'oSeed' || printf('%08d', n % ${users} + 1), 'WXSEED' || printf('%010d', n), ` +
      `CASE WHEN n % 5 = 0 THEN 'CLOSED' ELSE 'PAID' END, 100 + n % 900, 'CNY', 'Pour-over coffee', '2030-01-01T00:00:00+08:00', ${at(1_800_000)}, 'wx_seed_' || n, ${at()}, ` +
      `CASE WHEN n % 5 = 0 THEN NULL ELSE '4200SEED' || printf('%012d', n) END, CASE WHEN n % 5 = 0 THEN NULL ELSE ${at(30_000)} END, ${at()}, ${at()}, 'trn_seed' FROM s;`,
    `INSERT INTO order_items (order_id, line, product_id, name, quantity, unit_price) ${SERIES(orders)} SELECT 'ord_SEED' || printf('%08d', n), 1, 'prod_coffee', 'Pour-over coffee', 1, 100 + n % 900 FROM s;`,
    `INSERT INTO order_events (order_id, from_status, to_status, source, detail, at) ${SERIES(orders)} SELECT 'ord_SEED' || printf('%08d', n), 'PAYING', CASE WHEN n % 5 = 0 THEN 'CLOSED' ELSE 'PAID' END, 'notify', NULL, ${at()} FROM s;`,
    `INSERT INTO notifications (id, event_type, order_id, out_trade_no, transaction_id, out_refund_no, outcome, serial, resource, received_at) ${SERIES(orders)} ` +
      `SELECT 'seed-evt-' || n, 'TRANSACTION.SUCCESS', 'ord_SEED' || printf('%08d', n), 'WXSEED' || printf('%010d', n), '4200SEED' || printf('%012d', n), NULL, 'applied', 'PUB_KEY_ID_SEED', '{}', ${at()} FROM s WHERE n % 5 <> 0;`,
    `INSERT INTO fulfilments (order_id, status, attempts, next_attempt_at, created_at, done_at) ${SERIES(orders)} SELECT 'ord_SEED' || printf('%08d', n), 'DONE', 1, ${at()}, ${at()}, ${at()} FROM s WHERE n % 5 <> 0;`,
  ];
}

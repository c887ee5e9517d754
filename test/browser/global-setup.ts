/**
 * Global setup of the browser tests (vitest.browser.config.ts): the whole system exactly like
 * `npm run dev` (scripts/dev-system.mjs), on free ports with its state in a temporary directory,
 * plus, in its D1, two open flags for the flags inbox (flags come from money that did not fit, which
 * a healthy system does not produce on its own) and four weeks of paid orders and refunds, so the
 * overview's 7- and 30-day figures and its chart have history to show (the test's own orders are
 * today's).
 */
import type { TestProject } from "vitest/node";
import { startTemporarySystem } from "../../scripts/dev-system.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    workerUrl: string;
    simUrl: string;
    adminToken: string;
  }
}

export const SEEDED_FLAG_KINDS = ["browser_test_flag", "browser_test_forgery"] as const;

const DAY_MS = 86_400_000;
const LINES = [
  ["prod_coffee", "Pour-over coffee", 1800],
  ["prod_tea", "Longjing green tea", 2500],
  ["prod_mooncake", "Lotus-seed mooncake", 1288],
  ["prod_tote", "Canvas tote bag", 4900],
] as const;

/** Paid orders on each of the last 28 days before today (deterministic), some partly refunded. */
function historySql(now: number): string[] {
  const users = ["INSERT INTO users (id, openid, session_key_enc, created_at, updated_at) VALUES ('usr_history', 'o_history_seed', 'seed', 0, 0)"];
  const orders: string[] = [];
  const items: string[] = [];
  const refunds: string[] = [];
  for (let day = 28; day >= 1; day--) {
    const count = ((day * 7) % 5) + 1;
    for (let k = 0; k < count; k++) {
      const [productId, name, price] = LINES[(day + k) % LINES.length]!;
      const quantity = ((day + 2 * k) % 3) + 1;
      const amount = price * quantity;
      const at = now - day * DAY_MS + k * 3_600_000;
      const id = `ord_seed${String(day).padStart(2, "0")}x${k}`;
      const refunded = (day + k) % 6 === 0 ? price : 0;
      const status = refunded ? "PARTIALLY_REFUNDED" : "PAID";
      orders.push(`('${id}', 'usr_history', 'o_history_seed', 'WXSEED${String(day).padStart(2, "0")}X${k}', '${status}', ${amount}, '${name}${quantity > 1 ? ` x${quantity}` : ""}', '-', ${at + 1_800_000}, 'seed_tx_${id}', ${at + 30_000}, ${refunded}, ${at}, ${at})`);
      items.push(`('${id}', 0, '${productId}', '${name}', ${quantity}, ${price})`);
      if (refunded) refunds.push(`('rfd_seed_${id}', '${id}', 'RFSEED${id}', ${refunded}, 'SUCCESS', ${at + 7_200_000}, ${at + 7_200_000}, ${at + 7_200_000})`);
    }
  }
  return [
    ...users,
    `INSERT INTO orders (id, user_id, openid, out_trade_no, status, amount, description, time_expire, expires_at, transaction_id, paid_at, refunded_amount, created_at, updated_at) VALUES ${orders.join(", ")}`,
    `INSERT INTO order_items (order_id, line, product_id, name, quantity, unit_price) VALUES ${items.join(", ")}`,
    `INSERT INTO refunds (id, order_id, out_refund_no, amount, status, created_at, settled_at, updated_at) VALUES ${refunds.join(", ")}`,
  ];
}

export default async function setup(project: TestProject) {
  const t0 = Date.now();
  const log = (msg: string) => console.log(`[browser tests] ${msg}`);
  const system = await startTemporarySystem({ log });
  try {
    const now = Date.now();
    system.sql(
      [
        ...historySql(now),
        `INSERT INTO flags (order_id, kind, detail, at) VALUES ${SEEDED_FLAG_KINDS.map((k) => `(NULL, '${k}', '{"note":"seeded by the browser test"}', ${now})`).join(", ")}`,
      ].join("; "),
    );
  } catch (e) {
    await system.stop();
    throw e;
  }
  log(`system ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  project.provide("workerUrl", system.workerUrl);
  project.provide("simUrl", system.simUrl);
  project.provide("adminToken", system.adminToken ?? "");
  return async () => {
    await system.stop();
    log("system stopped");
  };
}

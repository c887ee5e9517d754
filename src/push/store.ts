/**
 * @module push/store — a verified push stored exactly once, with its flag, in ONE atomic D1 batch
 * (one round trip, so the answer to WeChat stays fast):
 *
 *   1. the event row, `ON CONFLICT (dedupe_key) DO NOTHING RETURNING` — zero rows: a retry of a
 *      push already stored; its order is found by transaction_id, else by merchant_trade_no;
 *   2. the flag, only if statement 1 inserted THIS request's row (guarded by the fresh row id, so
 *      a duplicate never flags twice), and not while the same order already has that kind of flag
 *      open (WeChat reminds again; a human needs one item, not one per reminder).
 */
import type { AppDeps, Db } from "../context";
import { rowsOf } from "../db/rows";
import type { PushEventStatus } from "../db/schema";
import { newId } from "../lib/random";
import { d1Of } from "../orders/repository";
import type { PushFormat } from "../wechat/push/verify";
import type { PushEvent } from "./event";

export interface StoredPush {
  id: string;
  orderId: string | null;
  status: PushEventStatus;
}

/** The stored row, or null when this push was stored before (a retry or a duplicate). */
export async function storePushEvent(db: Db, deps: Pick<AppDeps, "clock" | "random">, ev: PushEvent, format: PushFormat): Promise<StoredPush | null> {
  const d1 = d1Of(db);
  const id = newId(deps.random, "wxp");
  const now = deps.clock.now();
  const status: PushEventStatus = ev.needsDispatch ? "pending" : ev.flag ? "applied" : "stored";
  const statements = [
    d1
      .prepare(
        "INSERT INTO wx_push_events (id, dedupe_key, event, transaction_id, merchant_trade_no, order_id, create_time, format, body, status, received_at, processed_at) " +
          "VALUES (?1, ?2, ?3, ?4, ?5, COALESCE((SELECT id FROM orders WHERE transaction_id = ?4), (SELECT id FROM orders WHERE out_trade_no = ?5)), ?6, ?7, ?8, ?9, ?10, ?11) " +
          "ON CONFLICT (dedupe_key) DO NOTHING RETURNING order_id",
      )
      .bind(id, ev.dedupeKey, ev.event, ev.transactionId, ev.merchantTradeNo, ev.createTime, format, JSON.stringify(ev.fields), status, now, status === "applied" ? now : null),
  ];
  if (ev.flag) {
    const detail = JSON.stringify({ pushEventId: id, event: ev.event, transactionId: ev.transactionId, merchantTradeNo: ev.merchantTradeNo, msg: ev.msg });
    statements.push(
      d1
        .prepare(
          "INSERT INTO flags (order_id, notification_id, kind, detail, at) SELECT e.order_id, NULL, ?1, ?2, ?3 FROM wx_push_events e WHERE e.id = ?4 " +
            "AND NOT EXISTS (SELECT 1 FROM flags f WHERE e.order_id IS NOT NULL AND f.order_id = e.order_id AND f.kind = ?1 AND f.resolved_at IS NULL)",
        )
        .bind(ev.flag, detail, now, id),
    );
  }
  const [inserted] = await d1.batch(statements);
  const row = rowsOf(inserted)[0] as { order_id: string | null } | undefined;
  return row ? { id, orderId: row.order_id, status } : null;
}

/** Records what the after-answer work did (dispatch.ts). */
export async function finishPushEvent(db: Db, now: number, id: string, outcome: { status: Exclude<PushEventStatus, "pending">; error?: string }): Promise<void> {
  await d1Of(db)
    .prepare("UPDATE wx_push_events SET status = ?, last_error = ?, processed_at = ? WHERE id = ?")
    .bind(outcome.status, outcome.error?.slice(0, 500) ?? null, now, id)
    .run();
}

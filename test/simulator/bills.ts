/**
 * @module test/simulator/bills — trade bills (WECHATPAY.md I): `GET /v3/bill/tradebill` answers
 * `{hash_type:"SHA1", hash_value, download_url}`; the download (a signed request, an unsigned answer)
 * is a CSV in the format of test/fixtures/bill.ALL.csv (I.3): UTF-8 BOM, 27-column Chinese header,
 * back-tick-prefixed cells, yuan with 2 decimals (fee with 5), a summary header and row, CRLF lines.
 *
 * Built from the simulator's own records for the Asia/Shanghai day: one SUCCESS row per order paid
 * that day, one REFUND row per refund that succeeded that day, plus the rows of other apps or
 * merchants sharing the merchant id that a test added (`addForeignBillRows`: another appid or mchid). A day's bill exists from 10:00 the
 * next morning (I.2) and only if it has rows; otherwise 400 NO_STATEMENT_EXIST. Download links live
 * 5 minutes. Cells never contain an ASCII comma (replaced by "，"), since the format has no quoting.
 * Summary counts are integers (the fixture writes `45.0`; parsers take both).
 */
import type { Hono } from "hono";
import { answer, apiError, type SimEnv } from "./auth";
import type { SimContext } from "./context";
import { sha1Hex } from "./crypto";
import { billTime, cstDayStart } from "./time";
import { randomString } from "../../src/lib/random";

export const BILL_HEADER = [
  "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型",
  "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
  "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额",
  "费率备注",
];
export const BILL_SUMMARY_HEADER = ["总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额"];

/** Fee rate of the simulated merchant: 0.60 %. */
const FEE_RATE = 0.006;
const DAY_MS = 86_400_000;
const READY_AFTER_MS = 10 * 3600_000;
const LINK_TTL_MS = 5 * 60_000;

const yuan = (fen: number) => (fen / 100).toFixed(2);
const fee5 = (fen: number) => (fen / 100).toFixed(5);
const cell = (s: string) => `\`${s.replace(/,/g, "，").replace(/[\r\n]/g, " ")}`;

interface Row {
  at: number;
  cells: string[];
  settle: number;
  refund: number;
  fee: number;
  order: number;
  applied: number;
}

/** The CSV text of one day's bill, or null when the day has no rows. */
export function buildBill(sim: SimContext, date: string, type: "ALL" | "SUCCESS" | "REFUND"): string | null {
  const start = cstDayStart(date)!;
  const inDay = (ms: number | undefined) => ms !== undefined && ms >= start && ms < start + DAY_MS;
  const rows: Row[] = [];
  const { appid, mchid } = sim.opts;
  if (type !== "REFUND") {
    for (const t of sim.state.transactions.values()) {
      if (t.state !== "SUCCESS" || !inDay(t.successTime)) continue;
      const fee = Math.round(t.total * FEE_RATE);
      rows.push({
        at: t.successTime!,
        settle: t.total, refund: 0, fee, order: t.total, applied: 0,
        cells: [billTime(t.successTime!), appid, mchid, "0", "", t.transactionId!, t.outTradeNo, t.openid, "JSAPI",
          "SUCCESS", "OTHERS", "CNY", yuan(t.total), "0.00", "0", "0", "0.00", "0.00", "", "", t.description,
          t.attach ?? "", fee5(fee), "0.60%", yuan(t.total), "0.00", ""],
      });
    }
  }
  if (type !== "SUCCESS") {
    for (const r of sim.state.refunds.values()) {
      if (r.status !== "SUCCESS" || !inDay(r.successTime)) continue;
      const t = sim.state.transactions.get(r.outTradeNo)!;
      const fee = -Math.round(r.refund * FEE_RATE);
      rows.push({
        at: r.successTime!,
        settle: 0, refund: r.refund, fee, order: 0, applied: r.refund,
        cells: [billTime(r.successTime!), appid, mchid, "0", "", t.transactionId!, t.outTradeNo, t.openid, "JSAPI",
          "REFUND", "OTHERS", "CNY", "0.00", "0.00", r.refundId, r.outRefundNo, yuan(r.refund), "0.00", "ORIGINAL",
          "SUCCESS", t.description, t.attach ?? "", fee5(fee), "0.60%", "0.00", yuan(r.refund), ""],
      });
    }
  }
  rows.push(...foreignRows(sim, date, start, type));
  if (!rows.length) return null;
  rows.sort((a, b) => a.at - b.at);
  const sum = (k: "settle" | "refund" | "fee" | "order" | "applied") => rows.reduce((s, r) => s + r[k], 0);
  const lines = [
    BILL_HEADER.join(","),
    ...rows.map((r) => r.cells.map(cell).join(",")),
    BILL_SUMMARY_HEADER.join(","),
    [String(rows.length), yuan(sum("settle")), yuan(sum("refund")), "0.00", yuan(sum("fee")), yuan(sum("order")), yuan(sum("applied"))]
      .map(cell)
      .join(","),
  ];
  return `\uFEFF${lines.join("\r\n")}\r\n`;
}

/** Rows of another app (or merchant) on the same bill: their own numbers, amounts and openids. */
function foreignRows(sim: SimContext, date: string, start: number, type: "ALL" | "SUCCESS" | "REFUND"): Row[] {
  const rows: Row[] = [];
  for (const [g, spec] of (sim.state.foreignBillRows.get(date) ?? []).entries()) {
    for (let i = 0; i < spec.count; i++) {
      const at = start + 60_000 + ((g * 7919 + i * 104_729) % (86_000_000));
      const amount = 100 + ((i * 37) % 9_900);
      const outTradeNo = spec.outTradeNos?.[i] ?? `F${g}X${date.replace(/-/g, "")}N${i}`;
      const transactionId = `42000${g}${String(i).padStart(9, "0")}${date.replace(/-/g, "")}`;
      const refund = i % 5 === 4;
      if (refund ? type === "SUCCESS" : type === "REFUND") continue;
      const fee = Math.round(amount * FEE_RATE) * (refund ? -1 : 1);
      rows.push({
        at,
        settle: refund ? 0 : amount, refund: refund ? amount : 0, fee, order: refund ? 0 : amount, applied: refund ? amount : 0,
        cells: [billTime(at), spec.appid, spec.mchid, "0", "", transactionId, outTradeNo, `oForeign${g}_${i}`, "JSAPI",
          refund ? "REFUND" : "SUCCESS", "OTHERS", "CNY", refund ? "0.00" : yuan(amount), "0.00",
          refund ? `5030${g}${String(i).padStart(9, "0")}` : "0", refund ? `FR${g}N${i}` : "0", refund ? yuan(amount) : "0.00", "0.00",
          refund ? "ORIGINAL" : "", refund ? "SUCCESS" : "", "another app's goods", "", fee5(fee), "0.60%",
          refund ? "0.00" : yuan(amount), refund ? yuan(amount) : "0.00", ""],
      });
    }
  }
  return rows;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function registerBills(app: Hono<SimEnv>, sim: SimContext): void {
  app.get("/v3/bill/tradebill", async (c) => {
    const q = new URL(c.req.url).searchParams;
    const date = q.get("bill_date") ?? "";
    const type = q.get("bill_type") ?? "ALL";
    const tar = q.get("tar_type");
    const start = cstDayStart(date);
    if (start === null) return answer(sim, c.req.raw, apiError(400, "PARAM_ERROR", "参数错误: bill_date 格式应为 yyyy-MM-DD", { field: "bill_date", location: "query" }));
    if (type !== "ALL" && type !== "SUCCESS" && type !== "REFUND") {
      return answer(sim, c.req.raw, apiError(400, "PARAM_ERROR", "参数错误: bill_type", { field: "bill_type", location: "query" }));
    }
    if (tar !== null && tar !== "GZIP") return answer(sim, c.req.raw, apiError(400, "PARAM_ERROR", "参数错误: tar_type", { field: "tar_type", location: "query" }));
    const now = sim.clock.now();
    const csv = now >= start + DAY_MS + READY_AFTER_MS ? buildBill(sim, date, type) : null;
    if (csv === null) return answer(sim, c.req.raw, apiError(400, "NO_STATEMENT_EXIST", `${date} 的账单不存在或尚未生成`));
    const bytes = new TextEncoder().encode(csv);
    const token = randomString(sim.random, 32);
    sim.state.bills.set(token, { bytes, gzip: tar === "GZIP", expiresAt: now + LINK_TTL_MS });
    const base = sim.opts.baseUrl ?? new URL(c.req.url).origin;
    return answer(sim, c.req.raw, {
      status: 200,
      body: { hash_type: "SHA1", hash_value: await sha1Hex(bytes), download_url: `${base}/v3/billdownload/file?token=${token}` },
    });
  });
  app.get("/v3/billdownload/file", async (c) => {
    const token = new URL(c.req.url).searchParams.get("token") ?? "";
    const bill = sim.state.bills.get(token);
    if (!bill || sim.clock.now() > bill.expiresAt) {
      return answer(sim, c.req.raw, apiError(400, "INVALID_REQUEST", "下载链接无效或已过期"));
    }
    // The download answer is not signed (I.2).
    const body = bill.gzip ? await gzip(bill.bytes) : bill.bytes;
    return new Response(body, {
      status: 200,
      headers: { "content-type": "application/octet-stream", "request-id": sim.requestId() },
    });
  });
}

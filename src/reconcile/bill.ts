/**
 * @module reconcile/bill — parses a WeChat Pay trade bill (`bill_type=ALL`, WECHATPAY.md I.3).
 * Pure: text in, typed rows and totals out; throws `BillFormatError` on anything unexpected.
 *
 * Format: UTF-8 with a BOM; a 27-column Chinese header; detail rows whose every cell starts with
 * a back-tick (so Excel keeps digits); a 7-column summary header; one summary row, also
 * back-ticked. Amounts are yuan with two decimals (the fee with five): they become integer fen
 * (fee: integer units of 0.00001 yuan) by string arithmetic, never through floating point.
 * Cells are split on ",`" (a cell may contain a bare comma; the format has no quoting).
 */

export const BILL_COLUMNS = [
  "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型",
  "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
  "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额",
  "费率备注",
] as const;

export const SUMMARY_COLUMNS = ["总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额"] as const;

export class BillFormatError extends Error {
  constructor(message: string) {
    super(`trade bill: ${message}`);
    this.name = "BillFormatError";
  }
}

export interface BillRow {
  /** `YYYY-MM-DD HH:mm:ss`, Asia/Shanghai. */
  tradeTime: string;
  appid: string;
  mchid: string;
  transactionId: string;
  outTradeNo: string;
  openid: string;
  tradeType: string;
  /** SUCCESS (a payment row) or REFUND (a refund row), REVOKED… */
  tradeState: string;
  currency: string;
  /** 应结订单金额, fen. */
  settlementTotal: number;
  /** 代金券金额, fen. */
  couponAmount: number;
  /** Null when the cell is empty or "0" (payment rows). */
  refundId: string | null;
  outRefundNo: string | null;
  /** 退款金额, fen. */
  refundAmount: number;
  /** 充值券退款金额, fen. */
  couponRefundAmount: number;
  refundType: string;
  refundStatus: string;
  body: string;
  attach: string;
  /** 手续费 in units of 0.00001 yuan (the bill gives five decimals); negative on refund rows. */
  fee: number;
  rate: string;
  /** 订单金额, fen. */
  orderAmount: number;
  /** 申请退款金额, fen. */
  requestedRefundAmount: number;
  rateNote: string;
}

export interface BillTotals {
  count: number;
  settlementTotal: number;
  refundAmount: number;
  couponRefundAmount: number;
  /** Fee total in fen as the summary prints it (two decimals). */
  fee: number;
  orderAmount: number;
  requestedRefundAmount: number;
}

export interface ParsedBill {
  rows: BillRow[];
  /** The summary row, as WeChat printed it. */
  summary: BillTotals;
  /** The same totals computed from the rows (fee rounded half away from zero to fen). */
  computed: BillTotals;
  /** True when `summary` and `computed` agree on every field. */
  consistent: boolean;
}

/** "12.34" yuan → 1234 with decimals=2; "0.01000" → 1000 with decimals=5. Exact, no floats. */
export function yuanToUnits(text: string, decimals: number): number {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new BillFormatError(`"${text}" is not an amount`);
  const frac = m[3] ?? "";
  if (frac.length > decimals && !/^0*$/.test(frac.slice(decimals))) {
    throw new BillFormatError(`"${text}" has more than ${decimals} decimals`);
  }
  const units = Number(m[2]) * 10 ** decimals + Number((frac + "0".repeat(decimals)).slice(0, decimals) || "0");
  if (!Number.isSafeInteger(units)) throw new BillFormatError(`"${text}" is out of range`);
  return m[1] === "-" && units !== 0 ? -units : units;
}

/** A count the summary may print as "45" or "45.0". */
function parseCount(text: string): number {
  const m = /^(\d+)(?:\.0+)?$/.exec(text.trim());
  if (!m) throw new BillFormatError(`"${text}" is not a count`);
  return Number(m[1]);
}

/** The cells of a back-ticked line ("`a,`b,`" → ["a", "b", ""]). */
export function splitTickedLine(line: string): string[] {
  if (!line.startsWith("`")) throw new BillFormatError("a data line does not start with a back-tick");
  return line.slice(1).split(",`");
}

const optionalId = (s: string): string | null => (s === "" || s === "0" ? null : s);

/** 0.00001-yuan units → fen, rounding half away from zero (integer arithmetic). */
const feeToFen = (units: number): number => Math.sign(units) * Math.floor((Math.abs(units) + 500) / 1000);

export function parseTradeBill(input: string | Uint8Array): ParsedBill {
  let text = typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(input);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 3) throw new BillFormatError(`expected a header, a summary header and a summary row; got ${lines.length} lines`);

  const header = lines[0]!.split(",").map((c) => c.trim());
  if (header.length !== BILL_COLUMNS.length || header.some((c, i) => c !== BILL_COLUMNS[i])) {
    throw new BillFormatError(`the header is not the 27-column ALL bill header (got ${header.length} columns)`);
  }
  const summaryAt = lines.findIndex((l, i) => i > 0 && l.startsWith(SUMMARY_COLUMNS[0]));
  if (summaryAt < 0 || summaryAt !== lines.length - 2) throw new BillFormatError("the summary header must be the second-to-last line");
  const summaryHeader = lines[summaryAt]!.split(",").map((c) => c.trim());
  if (summaryHeader.length !== SUMMARY_COLUMNS.length || summaryHeader.some((c, i) => c !== SUMMARY_COLUMNS[i])) {
    throw new BillFormatError("the summary header is not the 7-column trade bill summary");
  }

  const rows = lines.slice(1, summaryAt).map((line, i) => parseRow(line, i + 2));
  const s = splitTickedLine(lines[summaryAt + 1]!);
  if (s.length !== SUMMARY_COLUMNS.length) throw new BillFormatError(`the summary row has ${s.length} cells, not 7`);
  const summary: BillTotals = {
    count: parseCount(s[0]!),
    settlementTotal: yuanToUnits(s[1]!, 2),
    refundAmount: yuanToUnits(s[2]!, 2),
    couponRefundAmount: yuanToUnits(s[3]!, 2),
    fee: yuanToUnits(s[4]!, 2),
    orderAmount: yuanToUnits(s[5]!, 2),
    requestedRefundAmount: yuanToUnits(s[6]!, 2),
  };
  const sum = (k: keyof BillRow) => rows.reduce((acc, r) => acc + (r[k] as number), 0);
  const computed: BillTotals = {
    count: rows.length,
    settlementTotal: sum("settlementTotal"),
    refundAmount: sum("refundAmount"),
    couponRefundAmount: sum("couponRefundAmount"),
    fee: feeToFen(sum("fee")),
    orderAmount: sum("orderAmount"),
    requestedRefundAmount: sum("requestedRefundAmount"),
  };
  const consistent = (Object.keys(summary) as (keyof BillTotals)[]).every((k) => summary[k] === computed[k]);
  return { rows, summary, computed, consistent };
}

function parseRow(line: string, lineNo: number): BillRow {
  const c = splitTickedLine(line);
  if (c.length !== BILL_COLUMNS.length) throw new BillFormatError(`line ${lineNo} has ${c.length} cells, not 27`);
  const at = (i: number) => c[i]!;
  const money = (i: number) => {
    try {
      return yuanToUnits(at(i), 2);
    } catch (e) {
      throw new BillFormatError(`line ${lineNo}, ${BILL_COLUMNS[i]}: ${(e as Error).message}`);
    }
  };
  return {
    tradeTime: at(0),
    appid: at(1),
    mchid: at(2),
    transactionId: at(5),
    outTradeNo: at(6),
    openid: at(7),
    tradeType: at(8),
    tradeState: at(9),
    currency: at(11),
    settlementTotal: money(12),
    couponAmount: money(13),
    refundId: optionalId(at(14)),
    outRefundNo: optionalId(at(15)),
    refundAmount: money(16),
    couponRefundAmount: money(17),
    refundType: at(18),
    refundStatus: at(19),
    body: at(20),
    attach: at(21),
    fee: yuanToUnits(at(22), 5),
    rate: at(23),
    orderAmount: money(24),
    requestedRefundAmount: money(25),
    rateNote: at(26),
  };
}

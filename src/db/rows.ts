/**
 * @module db/rows — hand-written SQL on the hot paths, with drizzle's row shapes.
 *
 * drizzle builds every query from its table objects on every call (`buildSelectQuery`, `is()`,
 * `sqlToQuery`): on a read that D1 answers in one round trip that was the largest share of the
 * Worker's own CPU (bench/RESULTS.md). The hot paths (notify, get and list orders, fulfilment)
 * therefore use fixed SQL strings built once per isolate from the drizzle schema — column names
 * are never typed twice — and get the same objects drizzle returns (`typeof table.$inferSelect`),
 * so the code above them does not know the difference. The SELECT list aliases every column to
 * its property (`"user_id" AS "userId"`), so the objects D1 builds already have drizzle's keys
 * and a table of plain text/integer columns needs no decoding at all.
 */
import { getTableColumns, getTableName, type Column, type Table } from "drizzle-orm";

export interface RowCodec<Row> {
  /** The SQL table name. */
  table: string;
  /** Every column as its property, in declaration order: `"id", "user_id" AS "userId", …` (SELECT, RETURNING). */
  columns: string;
  /** The bare column names, `"id", "user_id", …` (INSERT column lists). */
  names: string;
  /** SQL column name of a property (`userId` → `user_id`). */
  column(key: keyof Row & string): string;
  /** One D1 row read with `columns` → the drizzle row (driver values decoded where the column needs it). */
  decode(raw: Record<string, unknown>): Row;
  /** Many rows. */
  decodeAll(raw: readonly Record<string, unknown>[]): Row[];
}

/** Built once per table at module load. */
export function rowCodec<T extends Table>(table: T): RowCodec<T["$inferSelect"]> {
  type Row = T["$inferSelect"];
  const cols = Object.entries(getTableColumns(table)) as [string, Column][];
  // Plain text and integer columns decode to themselves; only the others (boolean, json, …)
  // pay for a call.
  const fields = cols.map(([key, col]) => ({
    key,
    name: col.name,
    decode: col.columnType === "SQLiteText" || col.columnType === "SQLiteInteger" ? null : (v: unknown) => col.mapFromDriverValue(v),
  }));
  const byKey = new Map(fields.map((f) => [f.key, f.name]));
  const decoded = fields.filter((f) => f.decode !== null);
  const decode =
    decoded.length === 0
      ? (raw: Record<string, unknown>): Row => raw as Row
      : (raw: Record<string, unknown>): Row => {
          for (const f of decoded) {
            const v = raw[f.key];
            if (v !== undefined && v !== null) raw[f.key] = f.decode!(v);
          }
          return raw as Row;
        };
  return {
    table: getTableName(table),
    columns: fields.map((f) => (f.name === f.key ? `"${f.name}"` : `"${f.name}" AS "${f.key}"`)).join(", "),
    names: fields.map((f) => `"${f.name}"`).join(", "),
    column: (key) => {
      const name = byKey.get(key);
      if (!name) throw new Error(`${getTableName(table)} has no column for ${key}`);
      return name;
    },
    decode,
    decodeAll: decoded.length === 0 ? (raw) => raw as Row[] : (raw) => raw.map(decode),
  };
}

/** The rows of one statement of a D1 batch (`[]` when it returned none). */
export function rowsOf(result: D1Result | undefined): Record<string, unknown>[] {
  return (result?.results ?? []) as Record<string, unknown>[];
}

/**
 * A read that rides along in a hot path's first D1 batch (same round trip) and whose result
 * decides whether the request may go on — e.g. the session liveness check (auth/session.ts).
 * `verify` throws to refuse.
 */
export interface BatchGuard {
  statement(d1: D1Database): D1PreparedStatement;
  verify(result: D1Result | undefined): void;
}

/** @module catalogue/products — the catalogue: the only place prices come from. */
import { asc, eq } from "drizzle-orm";
import type { Db } from "../context";
import { products } from "../db/schema";
import { d1Of } from "../orders/repository";

export interface Product {
  id: string;
  name: string;
  description: string;
  price: number;
  currency: string;
}

const columns = {
  id: products.id,
  name: products.name,
  description: products.description,
  price: products.price,
  currency: products.currency,
};

export function listActiveProducts(db: Db): Promise<Product[]> {
  return db.select(columns).from(products).where(eq(products.active, true)).orderBy(asc(products.sort), asc(products.id));
}

/**
 * Active products among `ids` (unknown or inactive ones are simply absent). Hand-written SQL:
 * it runs on every order creation (db/rows.ts says why).
 */
export async function activeProductsByIds(db: Db, ids: string[]): Promise<Product[]> {
  if (ids.length === 0) return [];
  const { results } = await activeProductsStatement(d1Of(db), ids).all<Product>();
  return results;
}

/** The same read as a statement, for callers that batch it with others (order creation). */
export const activeProductsStatement = (d1: D1Database, ids: string[]): D1PreparedStatement =>
  d1.prepare(`SELECT id, name, description, price, currency FROM products WHERE id IN (${ids.map(() => "?").join(", ")}) AND active = 1`).bind(...ids);

/** @module catalogue/products — the catalogue: the only place prices come from. */
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../context";
import { products } from "../db/schema";

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

/** Active products among `ids` (unknown or inactive ones are simply absent). */
export function activeProductsByIds(db: Db, ids: string[]): Promise<Product[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.select(columns).from(products).where(and(inArray(products.id, ids), eq(products.active, true)));
}

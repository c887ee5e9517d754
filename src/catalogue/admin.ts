/**
 * @module catalogue/admin — editing the catalogue (SPEC §10). Prices change for new orders only:
 * every order line stores its own `unitPrice`. Products are never deleted (old orders point at
 * them); `active: false` takes one off sale.
 */
import { asc, eq } from "drizzle-orm";
import type { Db } from "../context";
import { products } from "../db/schema";
import { AppError } from "../errors";
import { isUniqueViolation } from "../orders/repository";

export interface AdminProduct {
  id: string;
  name: string;
  description: string;
  price: number;
  currency: string;
  active: boolean;
  sort: number;
  createdAt: string;
  updatedAt: string | null;
}

export interface ProductInput {
  name: string;
  description?: string | undefined;
  price: number;
  active?: boolean | undefined;
  sort?: number | undefined;
}

export type ProductPatch = Partial<ProductInput>;

const view = (r: typeof products.$inferSelect): AdminProduct => ({
  id: r.id,
  name: r.name,
  description: r.description,
  price: r.price,
  currency: r.currency,
  active: r.active,
  sort: r.sort,
  createdAt: new Date(r.createdAt).toISOString(),
  updatedAt: r.updatedAt === null ? null : new Date(r.updatedAt).toISOString(),
});

export async function listAllProducts(db: Db): Promise<AdminProduct[]> {
  const rows = await db.select().from(products).orderBy(asc(products.sort), asc(products.id));
  return rows.map(view);
}

export async function getProduct(db: Db, id: string): Promise<AdminProduct | null> {
  const [row] = await db.select().from(products).where(eq(products.id, id));
  return row ? view(row) : null;
}

export async function createProduct(db: Db, id: string, p: ProductInput, now: number): Promise<AdminProduct> {
  try {
    const [row] = await db
      .insert(products)
      .values({ id, name: p.name, description: p.description ?? "", price: p.price, active: p.active ?? true, sort: p.sort ?? 0, createdAt: now })
      .returning();
    return view(row!);
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError("conflict", `a product with id ${id} already exists (edit it with PATCH)`);
    throw err;
  }
}

export async function updateProduct(db: Db, id: string, patch: ProductPatch, now: number): Promise<AdminProduct> {
  const [row] = await db
    .update(products)
    .set({ ...definedOnly(patch), updatedAt: now })
    .where(eq(products.id, id))
    .returning();
  if (!row) throw new AppError("not_found", "product not found");
  return view(row);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

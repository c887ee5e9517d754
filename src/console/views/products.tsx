/** @jsxImportSource hono/jsx */
/** @module console/views/products — the catalogue editor: edit price/name/description/sort, on or off sale, add. */
import type { FC } from "hono/jsx";
import type { AdminProduct } from "../../catalogue/admin";
import { fenToYuan } from "../../lib/money";
import { Csrf, Layout, type PageCtx } from "./layout";

const YUAN_PATTERN = "\\d{1,9}(\\.\\d{1,2})?";

export const ProductsPage: FC<{ p: PageCtx; products: AdminProduct[]; notice?: string | undefined; error?: string | undefined }> = ({ p, products, notice, error }) => (
  <Layout p={p} active="products" title={p.t("products")} notice={notice} error={error}>
    <h1>{p.t("products")}</h1>
    <p class="muted">{p.t("priceNote")}</p>
    <table>
      <thead>
        <tr><th>{p.t("id")}</th><th>{p.t("name")} / {p.t("description")}</th><th>{p.t("price")}</th><th>{p.t("sort")}</th><th>{p.t("active")}</th><th></th></tr>
      </thead>
      <tbody>
        {products.map((x) => {
          const form = `product-${x.id}`;
          return (
            <tr data-product-id={x.id}>
              <td class="mono">{x.id}</td>
              <td>
                <form id={form} method="post" action={`/admin/ui/products/${x.id}`}>
                  <Csrf token={p.csrf} />
                </form>
                <input form={form} name="name" value={x.name} required maxlength={60} size={24} />
                <br />
                <input form={form} name="description" value={x.description} maxlength={300} size={40} />
              </td>
              <td><input form={form} name="price" value={fenToYuan(x.price)} required pattern={YUAN_PATTERN} inputmode="decimal" size={9} /></td>
              <td><input form={form} name="sort" value={String(x.sort)} pattern="-?\d{1,7}" size={4} /></td>
              <td>
                <label>
                  <input form={form} type="checkbox" name="active" value="1" checked={x.active} />
                  {x.active ? p.t("active") : p.t("inactive")}
                </label>
              </td>
              <td><button form={form} type="submit">{p.t("save")}</button></td>
            </tr>
          );
        })}
      </tbody>
    </table>
    <h2>{p.t("create")}</h2>
    <div class="card">
      <form method="post" action="/admin/ui/products" class="inline" data-action="create-product">
        <Csrf token={p.csrf} />
        <label>{p.t("productId")}<input name="id" pattern="[A-Za-z0-9_\-]{1,64}" size={16} /></label>
        <label>{p.t("name")}<input name="name" required maxlength={60} /></label>
        <label>{p.t("description")}<input name="description" maxlength={300} /></label>
        <label>{p.t("price")}<input name="price" required pattern={YUAN_PATTERN} inputmode="decimal" size={9} /></label>
        <label>{p.t("sort")}<input name="sort" value="0" pattern="-?\d{1,7}" size={4} /></label>
        <input type="hidden" name="active" value="1" />
        <button type="submit">{p.t("create")}</button>
      </form>
    </div>
  </Layout>
);

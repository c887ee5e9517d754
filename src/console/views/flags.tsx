/** @jsxImportSource hono/jsx */
/** @module console/views/flags — the flags inbox: open / resolved, resolve with a note. */
import type { FC } from "hono/jsx";
import type { FlagStatus } from "../../admin/flags";
import type { FlagView } from "../../admin/queries";
import { Csrf, Layout, Time, type PageCtx } from "./layout";

export const FlagsPage: FC<{ p: PageCtx; status: FlagStatus; flags: FlagView[]; nextCursor: string | null; notice?: string | undefined; error?: string | undefined }> = ({ p, status, flags, nextCursor, notice, error }) => (
  <Layout p={p} active="flags" title={p.t("flags")} notice={notice} error={error}>
    <h1>{p.t("flags")}</h1>
    <p>
      <a href="/admin/ui/flags?status=open" class={status === "open" ? "badge PAID" : "badge"}>{p.t("open")}</a>{" "}
      <a href="/admin/ui/flags?status=resolved" class={status === "resolved" ? "badge PAID" : "badge"}>{p.t("resolved")}</a>
    </p>
    <table>
      <thead>
        <tr><th>{p.t("at")}</th><th>{p.t("kind")}</th><th>{p.t("order")}</th><th>{p.t("detail")}</th><th>{status === "open" ? p.t("resolve") : p.t("note")}</th></tr>
      </thead>
      <tbody>
        {flags.map((f) => (
          <tr data-flag-id={String(f.id)}>
            <td><Time at={f.at} /></td>
            <td class="mono">{f.kind}</td>
            <td class="mono">{f.orderId ? <a href={`/admin/ui/orders/${f.orderId}`}>{f.orderId}</a> : "–"}</td>
            <td class="mono">{JSON.stringify(f.detail)}</td>
            <td>
              {f.resolvedAt ? (
                <>
                  <Time at={f.resolvedAt} /> {f.note}
                </>
              ) : (
                <form method="post" action={`/admin/ui/flags/${f.id}/resolve`} class="inline">
                  <Csrf token={p.csrf} />
                  <input name="note" required maxlength={500} placeholder={p.t("note")} />
                  <button type="submit">{p.t("resolve")}</button>
                </form>
              )}
            </td>
          </tr>
        ))}
        {flags.length === 0 ? <tr><td colspan={5} class="muted">{p.t("noFlags")}</td></tr> : null}
      </tbody>
    </table>
    {nextCursor ? <div class="pager"><a href={`/admin/ui/flags?status=${status}&cursor=${nextCursor}`}>{p.t("nextPage")}</a></div> : null}
  </Layout>
);

/** @jsxImportSource hono/jsx */
/**
 * @module console/views/layout — the page frame (navigation, language switch, sign-out, notices)
 * and the small pieces every page uses: money from fen, Shanghai times, status badges, the CSRF
 * field. No inline script and no style attribute anywhere: the CSP allows neither.
 */
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import { formatFen } from "../../lib/money";
import { formatShanghai } from "../../lib/shanghai";
import { CSRF_FIELD } from "../forgery";
import type { Key, Lang, T } from "../i18n";

export interface PageCtx {
  t: T;
  lang: Lang;
  /** The session's CSRF token (absent on the sign-in page). */
  csrf?: string;
  /** The page's path, for the language switch. */
  path: string;
  /** This response's CSP nonce (routes/security.ts): the only script and stylesheet carry it. */
  nonce: string;
}

export const NAV: [Key, string][] = [
  ["overview", "/admin/ui/overview"],
  ["orders", "/admin/ui/orders"],
  ["flags", "/admin/ui/flags"],
  ["products", "/admin/ui/products"],
  ["reconcile", "/admin/ui/reconcile"],
  ["bills", "/admin/ui/bills"],
];

export const Money: FC<{ fen: number }> = ({ fen }) => <span class="money">{formatFen(fen)}</span>;
export const Time: FC<{ at: number | string | null }> = ({ at }) => <time>{formatShanghai(at)}</time>;
export const Badge: FC<{ status: string; label: string }> = ({ status, label }) => <span class={`badge ${status}`}>{label}</span>;
export const Csrf: FC<{ token: string | undefined }> = ({ token }) => <input type="hidden" name={CSRF_FIELD} value={token ?? ""} />;

export const Notice: FC<{ notice?: string | undefined; error?: string | undefined }> = ({ notice, error }) => (
  <>
    {notice ? <div class="notice" role="status">{notice}</div> : null}
    {error ? <div class="notice error" role="alert">{error}</div> : null}
  </>
);

export const Layout: FC<PropsWithChildren<{ p: PageCtx; active?: Key; title: string; notice?: string | undefined; error?: string | undefined }>> = ({ p, active, title, notice, error, children }) => (
  <html lang={p.lang === "zh" ? "zh-CN" : "en"}>
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width,initial-scale=1" />
      <title>{`${title} · ${p.t("title")}`}</title>
      <link rel="stylesheet" href="/admin/static/console.css" nonce={p.nonce} />
      {/* No icon: without this line every browser asks for /favicon.ico, a 404 and a log line per visit. */}
      <link rel="icon" href="data:," />
      <script src="/admin/static/console.js" nonce={p.nonce} defer></script>
    </head>
    <body>
      {p.csrf !== undefined ? (
        <header class="top">
          <span class="brand">{p.t("title")}</span>
          <nav>
            {NAV.map(([key, href]) => (
              <a href={href} class={key === active ? "on" : ""}>
                {p.t(key)}
              </a>
            ))}
          </nav>
          <div class="tools">
            <a href={`${p.path}?lang=${p.lang === "zh" ? "en" : "zh"}`} lang={p.lang === "zh" ? "en" : "zh-CN"}>
              {p.t("language")}
            </a>
            <form method="post" action="/admin/signout" class="inline">
              <Csrf token={p.csrf} />
              <button type="submit" class="plain" data-action="signout">
                {p.t("signOut")}
              </button>
            </form>
          </div>
        </header>
      ) : null}
      <main>
        <Notice notice={notice} error={error} />
        {children}
      </main>
    </body>
  </html>
);

/** `<!doctype html>` + the rendered page. */
export async function renderPage(node: Child): Promise<string> {
  return `<!doctype html>${await (node as { toString(): string | Promise<string> }).toString()}`;
}

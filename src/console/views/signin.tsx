/** @jsxImportSource hono/jsx */
/** @module console/views/signin — the sign-in form (`name="token"`), and the plain error page. */
import type { FC } from "hono/jsx";
import { Layout, type PageCtx } from "./layout";

export const SignInPage: FC<{ p: PageCtx; error?: string | undefined }> = ({ p, error }) => (
  <Layout p={p} title={p.t("signIn")}>
    <div class="card signin">
      <h1>{p.t("signInTitle")}</h1>
      {error ? <div class="notice error" role="alert">{error}</div> : null}
      <form method="post" action="/admin/session">
        <label>
          {p.t("signInHint")}
          <input type="password" name="token" required autocomplete="current-password" autofocus />
        </label>
        <button type="submit">{p.t("signIn")}</button>
        <a href={`/admin/ui/signin?lang=${p.lang === "zh" ? "en" : "zh"}`}>{p.t("language")}</a>
      </form>
    </div>
  </Layout>
);

export const ErrorPage: FC<{ p: PageCtx; message: string }> = ({ p, message }) => (
  <Layout p={p} title={p.t("error")} error={message}>
    <p><a href="/admin/ui/overview">{p.t("back")}</a></p>
  </Layout>
);

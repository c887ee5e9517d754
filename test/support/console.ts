/**
 * @module test/support/console — the operator console from a test: sign in through the form,
 * keep the cookie, read the CSRF token off a page, post forms as a browser of the same origin
 * would (or, for the forgery tests, as another site would).
 */
import { ADMIN_TOKEN } from "../fixtures/keys";
import type { World } from "./world";

export const ORIGIN = "https://worker.test";

export interface ConsoleClient {
  cookie: string;
  csrf: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(path: string, fields: Record<string, string>, opts?: { origin?: string | null; csrf?: string | null }): Promise<Response>;
}

export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export async function signInRaw(w: World, token: string, headers: Record<string, string> = {}): Promise<Response> {
  return w.request("POST", "/admin/session", {
    body: formBody({ token }),
    headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, "cf-connecting-ip": "198.51.100.7", ...headers },
  });
}

/** The `name=value` of the session cookie a sign-in answer set. */
export function sessionCookieOf(res: Response): string {
  const set = res.headers.get("set-cookie") ?? "";
  const m = /(wxe_console=[^;]*)/.exec(set);
  if (!m?.[1]) throw new Error(`no session cookie in ${set}`);
  return m[1];
}

export const csrfOf = (html: string): string => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";

export async function signIn(w: World, address = "198.51.100.7"): Promise<ConsoleClient> {
  const res = await signInRaw(w, ADMIN_TOKEN, { "cf-connecting-ip": address });
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  const cookie = sessionCookieOf(res);
  const client: ConsoleClient = {
    cookie,
    csrf: "",
    get: (path, headers = {}) => w.request("GET", path, { headers: { cookie, ...headers } }),
    post: (path, fields, opts = {}) => {
      const headers: Record<string, string> = { cookie, "content-type": "application/x-www-form-urlencoded" };
      const origin = opts.origin === undefined ? ORIGIN : opts.origin;
      if (origin !== null) headers.origin = origin;
      const csrf = opts.csrf === undefined ? client.csrf : opts.csrf;
      return w.request("POST", path, { body: formBody(csrf === null ? fields : { ...fields, _csrf: csrf }), headers });
    },
  };
  client.csrf = csrfOf(await (await client.get("/admin/ui/overview")).text());
  return client;
}

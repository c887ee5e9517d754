// HTML pages name their (empty) icon, so a browser opening /docs or the console does not ask for
// /favicon.ico: that was a 404 in the browser's console and a "request rejected" log line per visit.
import { describe, expect, it } from "vitest";
import { signIn } from "../support/console";
import { createWorld } from "../support/world";

const ICON = '<link rel="icon" href="data:,"';

describe("HTML pages and /favicon.ico", () => {
  it("/docs, the console's sign-in page and its pages declare an inline empty icon that the CSP allows", async () => {
    const w = createWorld();
    const docs = await w.request("GET", "/docs");
    expect(await docs.text()).toContain(ICON);
    expect(docs.headers.get("content-security-policy")).toMatch(/img-src [^;]*data:/);
    const signin = await w.request("GET", "/admin/ui/signin");
    expect(await signin.text()).toContain(ICON);
    expect(signin.headers.get("content-security-policy")).toMatch(/img-src [^;]*data:/);
    const overview = await (await signIn(w)).get("/admin/ui/overview");
    expect(overview.status).toBe(200);
    expect(await overview.text()).toContain(ICON);
  });
});

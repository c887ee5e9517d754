/**
 * Loading the example's compiled pages under miniprogram-simulate (the official component test
 * tool) and driving them: open a page with its query (what the framework's onLoad gets), wait for
 * its data, read its rendered text, tap its buttons.
 */
import { createRequire } from "node:module";
import { join } from "node:path";

/** The parts of miniprogram-simulate / j-component these tests use. */
export interface RenderedPage {
  data: Record<string, unknown>;
  instance: Record<string, (...args: unknown[]) => unknown>;
  dom: { textContent: string | null };
  attach(parent: unknown): void;
  detach(): void;
  querySelector(selector: string): { dispatchEvent(name: string, options?: unknown): void; dom: { textContent: string | null } } | null;
  querySelectorAll(selector: string): { dispatchEvent(name: string, options?: unknown): void }[];
}
interface Simulate {
  load(path: string, tagName: string, options: { compiler: "simulate"; rootPath: string }): string;
  render(id: string, properties?: Record<string, unknown>): RenderedPage;
}

const require = createRequire(import.meta.url);
let simulate: Simulate | null = null;
/** Required lazily: j-component needs jsdom's window and document, and our global wx first. */
function sim(): Simulate {
  simulate ??= require("miniprogram-simulate") as Simulate;
  return simulate;
}

type Doc = { createElement(tag: string): unknown };
const doc = () => (globalThis as unknown as { document: Doc }).document;

const open: RenderedPage[] = [];

/** Opens `/pages/x/index?a=b` like the framework: render, attach, onLoad(query). */
export function openPage(miniprogramDir: string, url: string): RenderedPage {
  const [route, qs = ""] = url.replace(/^\//, "").split("?");
  const query: Record<string, string> = {};
  for (const part of qs.split("&").filter(Boolean)) {
    const [k, v = ""] = part.split("=");
    query[decodeURIComponent(k!)] = decodeURIComponent(v);
  }
  const id = sim().load(join(miniprogramDir, route!), route!.replace(/\W+/g, "-"), { compiler: "simulate", rootPath: miniprogramDir });
  const page = sim().render(id);
  page.attach(doc().createElement("parent-wrapper"));
  open.push(page);
  page.instance.onLoad!(query);
  return page;
}

export function closePages(): void {
  for (const p of open.splice(0)) p.detach();
}

export function text(page: RenderedPage): string {
  return (page.dom.textContent ?? "").replace(/\s+/g, " ").trim();
}

/** Taps the first element matching `selector` (j-component dispatches on a microtask: awaited). */
export async function tap(page: RenderedPage, selector: string, index = 0): Promise<void> {
  const el = page.querySelectorAll(selector)[index];
  if (!el) throw new Error(`no ${selector} #${index} on the page; it shows: ${text(page)}`);
  el.dispatchEvent("tap");
  await new Promise((r) => setTimeout(r, 0));
}

/** Polls `check` until it returns a truthy value (returned) or the time is up. */
export async function waitFor<T>(what: string, check: () => T | undefined | null | false, { timeoutMs = 20_000, describe }: { timeoutMs?: number; describe?: () => string } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describe ? `; ${describe()}` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

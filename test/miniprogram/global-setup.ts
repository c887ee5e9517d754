/**
 * Global setup of the mini-program client tests (vitest.miniprogram.config.ts): starts the whole
 * system exactly like `npm run dev` (scripts/dev-system.mjs: throwaway keys, migrated local D1,
 * the WeChat simulator and `wrangler dev`) but on free ports with all state in a temporary
 * directory, and compiles the example mini program the way WeChat DevTools does (each .ts file to
 * a CommonJS .js file next to its .json/.wxml/.wxss) into another temporary directory, with
 * config.ts pointing at this Worker. Teardown stops both process groups (workerd included) and
 * removes the directories.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import type { TestProject } from "vitest/node";
import { startTemporarySystem } from "../../scripts/dev-system.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    workerUrl: string;
    simUrl: string;
    adminToken: string;
    /** The compiled mini program's root (miniprogramRoot). */
    miniprogramDir: string;
  }
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const EXAMPLE_SRC = join(root, "examples", "miniprogram", "miniprogram");

/** Compiles the example like WeChat DevTools' TypeScript plugin; returns the output root. */
export function compileMiniprogram(outDir: string, baseUrl: string): void {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  for (const file of walk(EXAMPLE_SRC)) {
    const rel = relative(EXAMPLE_SRC, file);
    const out = join(outDir, rel);
    mkdirSync(dirname(out), { recursive: true });
    if (file.endsWith(".d.ts")) continue;
    if (!file.endsWith(".ts")) {
      copyFileSync(file, out);
      continue;
    }
    let source = readFileSync(file, "utf8");
    if (rel === "config.ts") {
      // What a developer does: change BASE_URL, and nothing else.
      const pattern = /export const BASE_URL = "[^"]*";/;
      if (!pattern.test(source)) throw new Error(`${rel}: no \`export const BASE_URL = "…";\` line to point at the test Worker`);
      source = source.replace(pattern, `export const BASE_URL = ${JSON.stringify(baseUrl)};`);
    }
    const js = ts.transpileModule(source, {
      fileName: file,
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: false, sourceMap: false },
    });
    if (js.diagnostics?.length) throw new Error(`${rel}: ${ts.flattenDiagnosticMessageText(js.diagnostics[0]!.messageText, "\n")}`);
    writeFileSync(out.replace(/\.ts$/, ".js"), js.outputText);
  }
  // The root package.json says "type": "module"; the compiled mini program is CommonJS.
  writeFileSync(join(outDir, "..", "package.json"), JSON.stringify({ type: "commonjs" }));
}

export default async function setup(project: TestProject) {
  const t0 = Date.now();
  const log = (msg: string) => console.log(`[miniprogram tests] ${msg}`);
  const system = await startTemporarySystem({ log });
  log(`system ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const compiled = mkdtempSync(join(tmpdir(), "wxpay-edge-miniprogram-"));
  const miniprogramDir = join(compiled, "miniprogram");
  try {
    compileMiniprogram(miniprogramDir, system.workerUrl);
  } catch (e) {
    await system.stop();
    rmSync(compiled, { recursive: true, force: true });
    throw e;
  }
  project.provide("workerUrl", system.workerUrl);
  project.provide("simUrl", system.simUrl);
  project.provide("adminToken", system.adminToken ?? "");
  project.provide("miniprogramDir", miniprogramDir);

  return async () => {
    await system.stop();
    rmSync(compiled, { recursive: true, force: true });
    log("system stopped");
  };
}

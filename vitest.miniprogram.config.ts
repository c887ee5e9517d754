import { defineConfig } from "vitest/config";

// The example mini program (examples/miniprogram) tested as a client: its pages run under
// miniprogram-simulate in jsdom (not in workerd), against the whole system started by
// test/miniprogram/global-setup.ts exactly like `npm run dev`, on free ports.
export default defineConfig({
  test: {
    include: ["test/miniprogram/**/*.test.ts"],
    environment: "jsdom",
    globalSetup: ["./test/miniprogram/global-setup.ts"],
    // One system for all files; the files share it, so run them one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
  },
});

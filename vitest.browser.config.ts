import { defineConfig } from "vitest/config";

// The operator console (SPEC §10) in a real browser: Debian's headless Chromium driven by
// playwright-core, against the whole system started by test/browser/global-setup.ts exactly like
// `npm run dev`, on free ports. `SCREENSHOTS=1 npm run test:browser` also rewrites docs/console-*.png.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    globalSetup: ["./test/browser/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
  },
});

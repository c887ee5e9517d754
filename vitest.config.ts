import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import * as keys from "./test/fixtures/keys.ts";

// Tests run inside workerd with the real D1, the real migrations and the demo catalogue. Every
// binding the Worker reads is set here, so a developer's `.dev.vars` never changes a test's outcome.
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  // The demo catalogue is data, not schema: seeds/demo-catalogue.sql, applied after the migrations.
  const seeds = await readD1Migrations("./seeds");
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            TEST_SEEDS: seeds,
            WX_APPID: keys.APPID,
            WX_APPSECRET: keys.APPSECRET,
            WXPAY_MCHID: keys.MCHID,
            WXPAY_MCH_SERIAL: keys.MERCHANT_SERIAL,
            WXPAY_MCH_PRIVATE_KEY: keys.MERCHANT_PRIVATE_KEY,
            WXPAY_APIV3_KEY: keys.APIV3_KEY,
            WXPAY_PUBLIC_KEY_ID: "",
            WXPAY_PUBLIC_KEY: "",
            WXPAY_NOTIFY_URL: keys.NOTIFY_URL,
            SESSION_SECRET: keys.SESSION_SECRET,
            ADMIN_TOKEN: keys.ADMIN_TOKEN,
            WX_API_BASE: keys.WX_API_BASE,
            WXPAY_API_BASE: keys.WXPAY_API_BASE,
            ORDER_TTL_SECONDS: "1800",
            SESSION_TTL_SECONDS: "7200",
            LOGIN_RATE_LIMIT: "30",
            ORDER_RATE_LIMIT: "30",
            WX_PUSH_TOKEN: keys.PUSH_TOKEN,
            WX_PUSH_AES_KEY: keys.PUSH_AES_KEY,
            WX_PUSH_AES_KEY_PREVIOUS: "",
            WX_TRADE_MANAGED: "auto",
            WX_ORDER_JUMP_PATH: "",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      // The example mini program's client tests run in jsdom (vitest.miniprogram.config.ts) and the
      // console's in a real browser driven from Node (vitest.browser.config.ts), not in workerd.
      exclude: ["test/miniprogram/**", "test/browser/**", "**/node_modules/**"],
      setupFiles: ["./test/setup.ts"],
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
});

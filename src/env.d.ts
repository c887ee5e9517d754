/**
 * @module env — bindings `wrangler types` cannot see: secrets (set with `wrangler secret put`,
 * locally in `.dev.vars`), optional vars, and the test-only migrations and seed bindings.
 */
declare namespace Cloudflare {
  interface Env {
    WX_APPSECRET?: string;
    WXPAY_MCH_PRIVATE_KEY?: string;
    WXPAY_APIV3_KEY?: string;
    SESSION_SECRET?: string;
    /** The SESSION_SECRET before a rotation (README "Key rotation"). */
    SESSION_SECRET_PREVIOUS?: string;
    /** Orders a user may hold unpaid; default 10 (SPEC §11). */
    MAX_UNPAID_ORDERS?: string;
    ADMIN_TOKEN?: string;
    WXPAY_PUBLIC_KEY_ID?: string;
    WXPAY_PUBLIC_KEY?: string;
    WX_PUSH_TOKEN?: string;
    WX_PUSH_AES_KEY?: string;
    WX_PUSH_AES_KEY_PREVIOUS?: string;
    /** Test-only: migrations read by vitest.config.ts. */
    TEST_MIGRATIONS?: import("cloudflare:test").D1Migration[];
    /** Test-only: seeds/*.sql (the demo catalogue), split into statements by vitest.config.ts. */
    TEST_SEEDS?: import("cloudflare:test").D1Migration[];
  }
}

/**
 * @module test/support/world — the Worker and the WeChat simulator wired together: the Worker's
 * outbound fetch is the simulator, the simulator delivers notifications to the Worker, both on
 * one fake clock. What most route, notification and cron tests start from.
 */
import { env } from "cloudflare:workers";
import { FakeClock } from "../../src/lib/clock";
import { tokenKvKey } from "../../src/wechat/server/token-store";
import * as keys from "../fixtures/keys";
import { createSimulator, type Simulator } from "../simulator";
import type { SimulatorOptions } from "../simulator/types";
import { createHarness, T0, type Harness, type HarnessOptions } from "./harness";

export interface World extends Harness {
  sim: Simulator;
  /** Logs a (new or given) user in through the real login route; returns the session token. */
  login(user?: { openid?: string; unionid?: string }): Promise<{ token: string; userId: string; openid: string }>;
}

export interface WorldOptions extends Omit<HarnessOptions, "fetch" | "clock"> {
  sim?: Partial<SimulatorOptions>;
  /** "certificate" (default), "publicKey" (Worker configured with the public key), or "both". */
  keyMode?: "certificate" | "publicKey" | "both";
}

export function simulatorOptions(clock: FakeClock, over: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return {
    appid: keys.APPID,
    appsecret: keys.APPSECRET,
    mchid: keys.MCHID,
    apiv3Key: keys.APIV3_KEY,
    merchant: { serial: keys.MERCHANT_SERIAL, publicKeyPem: keys.MERCHANT_PUBLIC_KEY },
    platform: {
      certificates: [{ serial: keys.PLATFORM1_SERIAL, privateKeyPem: keys.PLATFORM1_PRIVATE_KEY, certificatePem: keys.PLATFORM1_CERTIFICATE }],
      publicKey: { id: keys.PUBLIC_KEY_ID, privateKeyPem: keys.PUBLIC_KEY_PRIVATE, publicKeyPem: keys.PUBLIC_KEY_PEM },
    },
    clock,
    timeScale: 0,
    push: { url: PUSH_URL, token: keys.PUSH_TOKEN, encodingAesKey: keys.PUSH_AES_KEY, originalId: "gh_97417a04a28d" },
    ...over,
  };
}

/** Where the simulator pushes messages (the harness routes by path). */
export const PUSH_URL = "https://worker.test/v1/wx/push";

let logins = 0;

export function createWorld(opts: WorldOptions = {}): World {
  const clock = new FakeClock(T0);
  const mode = opts.keyMode ?? "certificate";
  const publicKeyEnv =
    mode === "certificate" ? {} : { WXPAY_PUBLIC_KEY_ID: keys.PUBLIC_KEY_ID, WXPAY_PUBLIC_KEY: keys.PUBLIC_KEY_PEM };
  let harness: Harness | undefined;
  const sim = createSimulator(
    simulatorOptions(clock, {
      signWith: mode === "publicKey" ? "publicKey" : "certificate",
      deliver: (req) => {
        if (!harness) throw new Error("world not ready");
        return harness.fetch(req);
      },
      ...opts.sim,
    }),
  );
  harness = createHarness({ ...opts, clock, fetch: sim.fetch, env: { ...publicKeyEnv, ...opts.env } });
  const h = harness;
  const world: World = Object.assign(h, {
    sim,
    async login(user: { openid?: string; unionid?: string } = {}) {
      const { code, openid } = sim.mintCode(user);
      const res = await h.request("POST", "/v1/auth/login", { json: { code }, headers: { "cf-connecting-ip": `10.0.${Math.floor(++logins / 250)}.${logins % 250}` } });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { token: string; user: { id: string; openid: string } };
      return { token: body.token, userId: body.user.id, openid };
    },
  });
  return world;
}

/**
 * Forgets the access token stored in D1 (storage is per test file, simulators are per test): a
 * new world's WeChat would answer 40001 to a previous world's token, costing one refresh round.
 */
export async function forgetAccessToken(): Promise<void> {
  await env.DB.prepare("DELETE FROM kv WHERE key = ?").bind(tokenKvKey(keys.APPID)).run();
}

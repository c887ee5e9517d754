/**
 * @module scheduled — what the cron trigger runs (SPEC §5). Housekeeping that belongs to no
 * other module lives here; the reconciliation job is wired in by its own module.
 */
import { drizzle } from "drizzle-orm/d1";
import { lt } from "drizzle-orm";
import type { AppDeps } from "./context";
import * as schema from "./db/schema";
import { getConfig } from "./config";

export interface ScheduledEvent {
  scheduledTime: number;
  cron: string;
}

export async function runScheduled(env: Env, deps: AppDeps, _event: ScheduledEvent): Promise<void> {
  const log = deps.logger.with({ job: "cron" });
  try {
    getConfig(env);
  } catch (err) {
    log.error("cron skipped: configuration is invalid", { reason: (err as Error).message });
    return;
  }
  const db = drizzle(env.DB, { schema });
  // Rate-limit windows are one minute; anything older than two is dead weight.
  const minute = Math.floor(deps.clock.now() / 60_000);
  await db.delete(schema.rateLimits).where(lt(schema.rateLimits.window, minute - 2));
}

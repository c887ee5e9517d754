// Types of scripts/dev-system.mjs for the TypeScript tests that start the local system.
import type { ChildProcess, StdioOptions } from "node:child_process";

export const ROOT: string;
export const WRANGLER: string;
export const OFFLINE_ENV: Record<string, string>;
export function systemEnv(configHome: string): NodeJS.ProcessEnv;
export function ensureDevFiles(o: { devVarsPath: string; simConfigPath: string; workerPort: number; simPort: number }): Promise<boolean>;
export function migrateLocal(o?: { env?: NodeJS.ProcessEnv; persistTo?: string; timeoutMs?: number }): void;
export const DEMO_CATALOGUE: string;
export function seedDemoCatalogue(o?: { env?: NodeJS.ProcessEnv; persistTo?: string; timeoutMs?: number }): void;
export function executeLocalSql(o: { env?: NodeJS.ProcessEnv; persistTo?: string; sql: string; timeoutMs?: number }): void;
export function startSimulator(o: { env: NodeJS.ProcessEnv; simConfigPath: string; simPort: number; stdio?: StdioOptions; detached?: boolean }): ChildProcess;
export function startWorker(o: {
  env: NodeJS.ProcessEnv;
  workerPort: number;
  inspectorPort: number;
  envFile?: string;
  persistTo?: string;
  logLevel?: string;
  stdio?: StdioOptions;
  detached?: boolean;
}): ChildProcess;
export function freePort(): Promise<number>;
export function waitForHttp(url: string, o?: { timeoutMs?: number; expectStatus?: number; isAlive?: () => boolean; onWait?: (msg: string) => void }): Promise<void>;
export function readDevVar(path: string, name: string): string | undefined;
export function stopGroup(child: ChildProcess, o?: { graceMs?: number }): Promise<void>;

export interface TemporarySystem {
  workerUrl: string;
  simUrl: string;
  adminToken: string | undefined;
  /** The temporary directory holding keys, D1 state and logs (removed by stop()). */
  dir: string;
  devVarsPath: string;
  /** Process-group leaders: the simulator and wrangler. */
  pids: number[];
  /** Runs SQL against the system's local D1 (`wrangler d1 execute --local`). */
  sql(text: string): void;
  stop(): Promise<void>;
}
export function startTemporarySystem(o?: { log?: (msg: string) => void; readyTimeoutMs?: number; logLevel?: string }): Promise<TemporarySystem>;

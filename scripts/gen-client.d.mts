// Types of scripts/gen-client.mjs for test/miniprogram/openapi-client.test.ts.
export const CLIENT_TYPES_PATH: string;
export function serverOpenApiDocument(): Promise<Record<string, unknown>>;
export function miniProgramSubset<T extends Record<string, unknown>>(doc: T): T;
export function generateClientTypes(): Promise<string>;

import { describe, expect, it } from "vitest";
import { memoAsync, type PromiseCache } from "../../src/lib/memo";

describe("memoAsync", () => {
  it("runs the work once per key and shares the promise with concurrent callers", async () => {
    const cache: PromiseCache<number> = new Map();
    let runs = 0;
    const make = async () => ++runs;
    const [a, b] = await Promise.all([memoAsync(cache, "k", make), memoAsync(cache, "k", make)]);
    expect([a, b, runs]).toEqual([1, 1, 1]);
    expect(await memoAsync(cache, "other", make)).toBe(2);
  });

  it("forgets a failure, so the next call tries again", async () => {
    const cache: PromiseCache<string> = new Map();
    let fail = true;
    const make = async () => {
      if (fail) throw new Error("import failed");
      return "key";
    };
    await expect(memoAsync(cache, "k", make)).rejects.toThrow("import failed");
    await Promise.resolve();
    expect(cache.has("k")).toBe(false);
    fail = false;
    expect(await memoAsync(cache, "k", make)).toBe("key");
  });
});

/**
 * @module lib/memo — per-isolate caches of expensive async work (key imports, derivations).
 *
 * Keyed by the text the work came from (a PEM, a secret), so a rotated value simply gets a new
 * entry. A promise that rejects is dropped at once: the next call tries again rather than
 * replaying the failure for the isolate's lifetime.
 */
export type PromiseCache<T> = Map<string, Promise<T>>;

/** `make()` once per key (concurrent callers share the one promise); failures are not kept. */
export function memoAsync<T>(cache: PromiseCache<T>, key: string, make: () => Promise<T>): Promise<T> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

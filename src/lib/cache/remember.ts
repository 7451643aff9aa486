import type { CacheSetOptions, TenantCache } from './types.js';

/**
 * get-or-compute, shared by both stores. Not locked: two callers missing at once both compute,
 * and the last write wins — fine for a cache, and it never blocks on a slow producer.
 */
export async function rememberValue(
  cache: Pick<TenantCache, 'get' | 'set'>,
  key: string,
  compute: () => string | Promise<string>,
  options: CacheSetOptions,
): Promise<string> {
  const cached = await cache.get(key);
  if (cached !== null) return cached;
  const value = await compute();
  await cache.set(key, value, options);
  return value;
}

import type { Knex } from 'knex';
import { DatabaseTenantCache } from './database-store.js';
import { DEFAULT_CACHE_PREFIX } from './keyspace.js';
import { RedisTenantCache, type RedisClient } from './redis-store.js';
import type { TenantCache } from './types.js';

export type { CacheClearOptions, CacheSetOptions, TenantCache, TenantCacheUsage } from './types.js';
export {
  DEFAULT_CACHE_PREFIX,
  TenantKeyspace,
  centralDomainsKey,
  centralTenantKey,
  tenantOfKey,
} from './keyspace.js';
export { RedisTenantCache, type RedisClient } from './redis-store.js';
export { DatabaseTenantCache, CACHE_TABLE, CACHE_TAGS_TABLE } from './database-store.js';

/** Where a tenant's cache lives: a Redis (or Cluster) client and the key prefix, or the tenant's database. */
export type TenantCacheSource = { redis: RedisClient; prefix?: string } | { knex: Knex };

/**
 * A tenant's cache, laid out exactly as afty expects (see docs: "Cache keyspace"):
 *
 *   const cache = tenantCache({ redis, prefix: 'afty:' }, 'acme');
 *   await cache.set('user:1', json, { ttl: 300, tags: ['users'] });
 *   await cache.clearTag('users');
 *
 * With `{ knex }` (a connection to the tenant's own database) the values go to `afty_cache`.
 * The caller owns the client or knex instance and closes it.
 */
export function tenantCache(source: TenantCacheSource, tenant: string): TenantCache {
  if ('redis' in source)
    return new RedisTenantCache(source.redis, tenant, source.prefix ?? DEFAULT_CACHE_PREFIX);
  return new DatabaseTenantCache(source.knex, tenant);
}

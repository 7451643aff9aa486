import type { AftyContext } from '../context.js';
import type { TenantRecord } from '../registry/index.js';
import { DatabaseTenantCache } from './database-store.js';
import { redisTenantUsage, scanTenantUsage } from './redis-admin.js';
import { RedisTenantCache, type RedisClient } from './redis-store.js';
import type { CacheClearOptions, TenantCache, TenantCacheUsage } from './types.js';

/** The configured store as the commands use it: one Redis connection, or each tenant's database. */
export interface CacheService {
  readonly store: 'redis' | 'database';
  /** For messages: the redacted Redis URL, or where the database store lives. */
  readonly target: string;
  /** The Redis client; absent for the database store. */
  readonly redis?: RedisClient;
  /** Runs work against one tenant's cache (the database store opens and closes its connection). */
  withTenant<T>(tenant: TenantRecord, work: (cache: TenantCache) => Promise<T>): Promise<T>;
  /** Values, tags and bytes per tenant (`samples` = 0 counts without measuring memory). */
  usage(tenants: TenantRecord[], samples: number): Promise<TenantCacheUsage[]>;
  /**
   * The same, one tenant at a time (for a fleet run): what can be read for all tenants at once
   * (a standalone Redis's one SCAN) is read first.
   */
  usageScan(
    tenants: TenantRecord[],
    samples: number,
  ): Promise<{ of(tenant: TenantRecord): Promise<TenantCacheUsage> }>;
  close(): Promise<void>;
}

/** Redis when cache.url is configured (standalone or cluster), else the database store. */
export async function openCacheService(ctx: AftyContext): Promise<CacheService> {
  const { cache } = ctx.config;
  if (cache.url) {
    const [{ connectCache }, { redactUrl }] = await Promise.all([
      import('./connection.js'),
      import('../config/urls.js'),
    ]);
    const client = await connectCache(cache);
    return {
      store: 'redis',
      target: redactUrl(cache.url),
      redis: client,
      withTenant: (tenant, work) => work(new RedisTenantCache(client, tenant.id, cache.prefix)),
      usage: (tenants, samples) =>
        redisTenantUsage(
          client,
          cache.prefix,
          tenants.map((tenant) => tenant.id),
          { samples },
        ),
      async usageScan(tenants, samples) {
        const scan = await scanTenantUsage(
          client,
          cache.prefix,
          tenants.map((tenant) => tenant.id),
          { samples },
        );
        return { of: (tenant) => scan.of(tenant.id) };
      },
      async close() {
        client.disconnect();
      },
    };
  }
  const [{ tenantLocation }, { createKnex }] = await Promise.all([
    import('../tenants/index.js'),
    import('../servers/knex.js'),
  ]);
  const withDatabase = async <T>(tenant: TenantRecord, work: (cache: DatabaseTenantCache) => Promise<T>) => {
    const db = await createKnex(tenantLocation(ctx, tenant));
    try {
      return await work(new DatabaseTenantCache(db, tenant.id));
    } finally {
      await db.destroy();
    }
  };
  return {
    store: 'database',
    target: 'afty_cache tables in each tenant database',
    withTenant: withDatabase,
    async usage(tenants) {
      const usage: TenantCacheUsage[] = [];
      for (const tenant of tenants) usage.push(await withDatabase(tenant, (cache) => cache.usage()));
      return usage;
    },
    async usageScan() {
      return { of: (tenant) => withDatabase(tenant, (cache) => cache.usage()) };
    },
    async close() {},
  };
}

export interface ClearRequest extends CacheClearOptions {
  tag?: string;
  dryRun?: boolean;
}

/** One tenant's part of `afty cache clear`: the values removed, or that would be with dryRun. */
export async function clearTenantCache(cache: TenantCache, request: ClearRequest): Promise<number> {
  if (request.tag !== undefined)
    return request.dryRun ? cache.countTag(request.tag) : cache.clearTag(request.tag);
  const options = { pattern: request.pattern };
  return request.dryRun ? cache.count(options) : cache.clear(options);
}

/**
 * Removes what Redis holds for a tenant being deleted: every key of its keyspace (values and
 * tags) and its central entries (metadata hash, domain lookups), so a new tenant with the same id
 * starts empty. Returns the values removed. The database store needs nothing: its rows live in the
 * tenant's database. Redis unreachable → exit 3, before anything of the tenant is dropped.
 */
export async function forgetTenantCache(
  ctx: AftyContext,
  tenant: TenantRecord,
  domains: string[],
): Promise<number> {
  const { cache } = ctx.config;
  if (!cache.url) return 0;
  const [{ connectCache }, { centralDomainsKey, centralTenantKey }] = await Promise.all([
    import('./connection.js'),
    import('./keyspace.js'),
  ]);
  const client = await connectCache(cache);
  try {
    const removed = await new RedisTenantCache(client, tenant.id, cache.prefix).clear();
    await client.unlink(centralTenantKey(cache.prefix, tenant.id));
    // Only the tenant's own domains, and only while they still point at it.
    const domainsKey = centralDomainsKey(cache.prefix);
    for (const domain of domains) {
      if ((await client.hget(domainsKey, domain)) === tenant.id) await client.hdel(domainsKey, domain);
    }
    return removed;
  } finally {
    client.disconnect();
  }
}

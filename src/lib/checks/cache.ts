import { setTimeout as sleep } from 'node:timers/promises';
import { TenantKeyspace, tenantCache, tenantOfKey, type TenantCache } from '../cache/index.js';
import type { TenantRecord } from '../registry/index.js';
import { createKnex } from '../servers/knex.js';
import { tenantLocation } from '../tenants/index.js';
import { probeName, redisNodes, sampleTargets } from './probes.js';
import type { CheckContext, CheckOutcome, GlobalCheck, TenantCheck } from './types.js';

/** Probe keys and tags: unique per probe and easy to recognise if a crash ever left one behind. */
const PROBE_PREFIX = 'afty-check:';

/** Runs work on a tenant's cache in the configured store (Redis, else the tenant's database). */
async function withTenantCache<T>(
  ctx: CheckContext,
  tenant: TenantRecord,
  work: (cache: TenantCache) => Promise<T>,
): Promise<T> {
  const redis = await ctx.redis();
  if (redis) return work(tenantCache({ redis, prefix: ctx.afty.config.cache.prefix }, tenant.id));
  const db = await createKnex(tenantLocation(ctx.afty, tenant));
  try {
    return await work(tenantCache({ knex: db }, tenant.id));
  } finally {
    await db.destroy();
  }
}

/** The TTL really applies: Redis reports it on the key; the database store is asked after it ran out. */
async function ttlProblem(
  ctx: CheckContext,
  tenant: TenantRecord,
  cache: TenantCache,
  key: string,
): Promise<string | undefined> {
  const redis = await ctx.redis();
  if (redis) {
    const ttlMs = await redis.pttl(new TenantKeyspace(ctx.afty.config.cache.prefix, tenant.id).key(key));
    return ttlMs > 0 && ttlMs <= 60_000 ? undefined : `a key set with a 60 s TTL has PTTL ${ttlMs}`;
  }
  const short = `${key}:ttl`;
  await cache.set(short, 'x', { ttl: 1 });
  await sleep(1100);
  const left = await cache.get(short);
  await cache.delete(short);
  return left === null ? undefined : 'a key set with a 1 s TTL was still there after 1.1 s';
}

const operations: TenantCheck = {
  id: 'cache.operations',
  category: 'cache',
  title: 'set / get / TTL / tags / clear work on the configured store',
  remedy: 'afty cache status, then check cache.url (Redis) or the tenant database (database store)',
  scope: 'tenant',
  async run(ctx, tenant) {
    const base = probeName(PROBE_PREFIX);
    const tag = `${base}:tag`;
    const keys = [`${base}:a`, `${base}:b`, `${base}:c`];
    return withTenantCache(ctx, tenant, async (cache) => {
      const problems: string[] = [];
      try {
        await cache.set(keys[0]!, 'value-a', { ttl: 60, tags: [tag] });
        if ((await cache.get(keys[0]!)) !== 'value-a') problems.push('get did not return what set stored');
        const ttl = await ttlProblem(ctx, tenant, cache, keys[0]!);
        if (ttl) problems.push(ttl);
        await cache.set(keys[1]!, 'value-b', { tags: [tag] });
        if ((await cache.countTag(tag)) !== 2) problems.push('a tag does not count its 2 keys');
        const cleared = await cache.clearTag(tag);
        if (cleared !== 2 || (await cache.get(keys[0]!)) !== null || (await cache.get(keys[1]!)) !== null) {
          problems.push(`clearing a tag removed ${cleared} of 2 keys`);
        }
        await cache.set(keys[2]!, 'value-c');
        // Cleared by pattern, so the tenant's real cache is never touched (probe names hold no glob characters).
        const removed = await cache.clear({ pattern: `${base}*` });
        if (removed !== 1 || (await cache.get(keys[2]!)) !== null)
          problems.push(`clearing by pattern removed ${removed} of 1 key`);
      } finally {
        for (const key of keys) await cache.delete(key);
        await cache.clearTag(tag);
      }
      const store = cache.store === 'redis' ? 'Redis' : 'database store';
      if (problems.length > 0)
        return { status: 'fail', message: `${store}: ${problems.join('; ')}`, details: { problems } };
      return { status: 'pass', message: `${store}: set, get, TTL, tags and clear behave` };
    });
  },
};

const crossTenantKeys: TenantCheck = {
  id: 'isolation.cache',
  category: 'isolation',
  title: 'cache keys written for one tenant are invisible to another',
  remedy:
    'read and write the cache only through tenantCache() from afty (src/lib/cache), which prefixes every key with the tenant',
  scope: 'tenant',
  async run(ctx, tenant) {
    const targets = sampleTargets(await ctx.fleet(), tenant, ctx.options.sample);
    if (targets.length === 0) return { status: 'skip', message: 'no other tenant to probe against' };
    const key = probeName(PROBE_PREFIX);
    return withTenantCache(ctx, tenant, async (own) => {
      await own.set(key, tenant.id, { ttl: 60 });
      try {
        const leaks: string[] = [];
        for (const target of targets) {
          await withTenantCache(ctx, target, async (other) => {
            if ((await other.get(key)) !== null) leaks.push(`${target.id} reads it`);
            if ((await other.clear({ pattern: key })) > 0) leaks.push(`${target.id}'s clear removed it`);
          });
        }
        if ((await own.get(key)) !== tenant.id) leaks.push(`${tenant.id}'s value was changed`);
        const details = { targets: targets.map((target) => target.id), leaks };
        if (leaks.length > 0)
          return { status: 'fail', message: `a key of ${tenant.id}: ${leaks.join('; ')}`, details };
        return { status: 'pass', message: `invisible to ${targets.length} other tenant(s)`, details };
      } finally {
        await own.delete(key);
      }
    });
  },
};

/** At most this many offending keys are named in a message. */
const KEYS_NAMED = 5;

const keyspace: GlobalCheck = {
  id: 'isolation.cache-keyspace',
  category: 'isolation',
  title: "every key under the cache prefix belongs to one tenant's keyspace or the central one",
  remedy:
    'write keys only through tenantCache() (they get <prefix>t:{<tenant>}:), and delete the listed keys',
  scope: 'global',
  async run(ctx): Promise<CheckOutcome> {
    const redis = await ctx.redis();
    if (!redis)
      return {
        status: 'skip',
        message: 'no Redis configured: the database store keeps each tenant in its own database',
      };
    const { prefix } = ctx.afty.config.cache;
    const tenants = new Set((await ctx.fleet()).map((tenant) => tenant.id));
    const outside: string[] = [];
    const unknownTenants = new Set<string>();
    let scanned = 0;
    for (const node of redisNodes(redis)) {
      // The config schema allows no glob characters in the prefix, so it needs no escaping.
      for await (const batch of node.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<
        string[]
      >) {
        for (const key of batch) {
          scanned += 1;
          const owner = tenantOfKey(prefix, key);
          if (owner === undefined) {
            if (!key.startsWith(`${prefix}central:`)) outside.push(key);
          } else if (!tenants.has(owner)) unknownTenants.add(owner);
        }
      }
    }
    const details = { scanned, outside: outside.slice(0, 100), unknownTenants: [...unknownTenants] };
    if (outside.length > 0) {
      // A tenant id inside such a key says whose data most likely leaked.
      const named = [...tenants].filter((id) => outside.some((key) => key.split(/[:{}]/).includes(id)));
      return {
        status: 'fail',
        message: `${outside.length} key(s) under ${prefix} are in no tenant's keyspace, so every tenant can read them${named.length ? ` (naming tenant ${named.join(', ')})` : ''}: ${outside.slice(0, KEYS_NAMED).join(', ')}${outside.length > KEYS_NAMED ? ', …' : ''}`,
        details,
        remedy: `delete the listed keys (redis-cli UNLINK <key>)${named.length ? ` and make ${named.join(', ')}'s code` : ', and make the code that wrote them'} write through tenantCache()`,
      };
    }
    if (unknownTenants.size > 0) {
      return {
        status: 'warn',
        message: `keys of tenants not in the registry: ${[...unknownTenants].slice(0, KEYS_NAMED).join(', ')}`,
        details,
        remedy: 'delete them (redis-cli --scan --pattern "<prefix>t:{<id>}:*" | xargs redis-cli UNLINK)',
      };
    }
    return {
      status: 'pass',
      message: `${scanned} key(s) under ${prefix}, all in a tenant's or the central keyspace`,
      details,
    };
  },
};

export const cacheChecks: TenantCheck[] = [operations];
export const cacheIsolationChecks = [crossTenantKeys, keyspace];

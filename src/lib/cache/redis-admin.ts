import type { Redis } from 'ioredis';
import { TenantKeyspace, escapeGlob, tenantOfKey } from './keyspace.js';
import { REDIS_BATCH, RedisTenantCache, isCluster, type RedisClient } from './redis-store.js';
import type { TenantCacheUsage } from './types.js';

export interface RedisServerStatus {
  version: string;
  mode: 'standalone' | 'cluster';
  /** Masters serving the keyspace (1 for standalone). */
  nodes: number;
  usedMemoryBytes: number;
  /** 0 = no limit (summed over masters in a cluster). */
  maxmemoryBytes: number;
  /** One entry per distinct policy among the masters. */
  maxmemoryPolicy: string[];
  warnings: string[];
}

/** The masters that hold the keyspace: the client itself when standalone. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Version, mode, memory and eviction policy, with warnings about policies that endanger tenant keys. */
export async function redisServerStatus(client: RedisClient): Promise<RedisServerStatus> {
  const nodes = masters(client);
  const infos = await Promise.all(
    nodes.map(async (node) => `${await node.info('server')}\n${await node.info('memory')}`),
  );
  const policies = [...new Set(infos.map((info) => infoField(info, 'maxmemory_policy') ?? 'unknown'))];
  const maxmemory = infos.reduce((sum, info) => sum + Number(infoField(info, 'maxmemory') ?? 0), 0);
  const warnings: string[] = [];
  for (const policy of policies) {
    if (policy.startsWith('allkeys-')) {
      warnings.push(
        `maxmemory-policy ${policy} can evict any key, tag sets and central keys included, so a tag clear can miss keys that stay cached: use volatile-lru or volatile-lfu and give cache entries a TTL`,
      );
    } else if (policy === 'noeviction' && maxmemory > 0) {
      warnings.push(
        `maxmemory-policy noeviction: once maxmemory is reached every cache write fails with OOM`,
      );
    }
  }
  return {
    version: infoField(infos[0] ?? '', 'redis_version') ?? 'unknown',
    mode: isCluster(client) ? 'cluster' : 'standalone',
    nodes: nodes.length,
    usedMemoryBytes: infos.reduce((sum, info) => sum + Number(infoField(info, 'used_memory') ?? 0), 0),
    maxmemoryBytes: maxmemory,
    maxmemoryPolicy: policies,
    warnings,
  };
}

export interface UsageOptions {
  /** Keys per tenant measured with MEMORY USAGE; beyond it the figure is extrapolated. 0 = count only. */
  samples: number;
}

/** Counts and a uniform sample of one tenant's keys (reservoir sampling, so one pass suffices). */
class TenantTally {
  values = 0;
  tags = 0;
  seen = 0;
  readonly sample: string[] = [];

  constructor(
    readonly keyspace: TenantKeyspace,
    private readonly samples: number,
  ) {}

  add(key: string): void {
    if (this.keyspace.isTagKey(key)) this.tags += 1;
    else this.values += 1;
    this.seen += 1;
    if (this.sample.length < this.samples) this.sample.push(key);
    else if (this.samples > 0) {
      const slot = Math.floor(Math.random() * this.seen);
      if (slot < this.samples) this.sample[slot] = key;
    }
  }
}

/** Each tenant's usage, once its keys are counted. */
export interface TenantUsageScan {
  of(tenant: string): Promise<TenantCacheUsage>;
}

/**
 * Per tenant: values, tag sets and memory. Standalone: one SCAN over every tenant's keys up
 * front (not one per tenant), bucketed by the tenant id inside the hash tag; each tenant's
 * memory is then measured when asked. Cluster: each tenant's slot, when asked.
 */
export async function scanTenantUsage(
  client: RedisClient,
  prefix: string,
  tenants: string[],
  options: UsageOptions,
): Promise<TenantUsageScan> {
  const tallies = new Map(
    tenants.map((id) => [id, new TenantTally(new TenantKeyspace(prefix, id), options.samples)]),
  );
  const cluster = isCluster(client);
  if (!cluster && tenants.length > 0) {
    const only = tenants.length === 1 ? tallies.get(tenants[0]!)! : undefined;
    const match = only ? only.keyspace.match() : `${escapeGlob(prefix)}t:{*`;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', REDIS_BATCH);
      cursor = next;
      for (const key of keys) {
        const tenant = only ? only.keyspace.tenant : tenantOfKey(prefix, key);
        if (tenant !== undefined) tallies.get(tenant)?.add(key);
      }
    } while (cursor !== '0');
  }
  return {
    async of(tenant) {
      const tally =
        tallies.get(tenant) ?? new TenantTally(new TenantKeyspace(prefix, tenant), options.samples);
      if (cluster) {
        await new RedisTenantCache(client, tenant, prefix).eachKey(async (keys) => {
          for (const key of keys) tally.add(key);
        });
      }
      const sizes = await memoryUsage(client, tally.sample);
      const measured = sizes.reduce((sum, size) => sum + size, 0);
      const estimated = tally.sample.length < tally.seen;
      return {
        tenant,
        keys: tally.values,
        tags: tally.tags,
        bytes:
          estimated && tally.sample.length
            ? Math.round((measured / tally.sample.length) * tally.seen)
            : measured,
        sampled: tally.sample.length,
        estimated,
      };
    },
  };
}

/** Every tenant's usage (see scanTenantUsage), in the order given. */
export async function redisTenantUsage(
  client: RedisClient,
  prefix: string,
  tenants: string[],
  options: UsageOptions,
): Promise<TenantCacheUsage[]> {
  const scan = await scanTenantUsage(client, prefix, tenants, options);
  const usage: TenantCacheUsage[] = [];
  for (const tenant of tenants) usage.push(await scan.of(tenant));
  return usage;
}

/** MEMORY USAGE per key, pipelined; one tenant's keys share a slot, so this is valid in a cluster. */
async function memoryUsage(client: RedisClient, keys: string[]): Promise<number[]> {
  const sizes: number[] = [];
  for (let start = 0; start < keys.length; start += REDIS_BATCH) {
    const pipeline = client.pipeline();
    for (const key of keys.slice(start, start + REDIS_BATCH)) pipeline.memory('USAGE', key);
    for (const [error, size] of (await pipeline.exec()) ?? []) {
      // A key that expired between the scan and now has no size.
      sizes.push(error ? 0 : Number(size ?? 0));
    }
  }
  return sizes;
}

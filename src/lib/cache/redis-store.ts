import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { OperationError } from '../errors.js';
import {
  DEFAULT_CACHE_PREFIX,
  TenantKeyspace,
  globToRegExp,
  notAnInteger,
  validateIncrement,
  validateKey,
  validatePattern,
  validateTag,
  validateTtl,
} from './keyspace.js';
import { rememberValue } from './remember.js';
import type { CacheClearOptions, CacheSetOptions, TenantCache } from './types.js';

export type RedisClient = Redis | Cluster;

/** Keys per SCAN page / UNLINK call: large enough to amortise round trips, small enough not to block Redis. */
export const REDIS_BATCH = 1000;

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}

/** The master that serves a slot (cluster commands without keys go to a random node otherwise). */
export async function masterForSlot(cluster: Cluster, slot: number): Promise<Redis> {
  const address = cluster.slots[slot]?.[0];
  const node = cluster
    .nodes('master')
    .find((master) => `${master.options.host}:${master.options.port}` === address);
  if (!node)
    throw new OperationError(`no Redis Cluster master serves slot ${slot}`, { hint: 'check CLUSTER INFO' });
  return node;
}

/** Runs a MULTI and surfaces the first command error (ioredis returns them in the result array). */
async function execMulti(multi: ChainableCommander): Promise<unknown[]> {
  const results = (await multi.exec()) ?? [];
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0];
  return results.map(([, value]) => value);
}

/**
 * A tenant's cache on Redis, standalone or Cluster. All of the tenant's keys share a hash tag,
 * so MULTI, RENAME and multi-key UNLINK/EXISTS are valid in a cluster too.
 */
export class RedisTenantCache implements TenantCache {
  readonly store = 'redis' as const;
  readonly keys: TenantKeyspace;

  constructor(
    private readonly client: RedisClient,
    readonly tenant: string,
    prefix = DEFAULT_CACHE_PREFIX,
  ) {
    this.keys = new TenantKeyspace(prefix, tenant);
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(this.keys.key(validateKey(key, this.tenant)));
  }

  async set(key: string, value: string, options: CacheSetOptions = {}): Promise<void> {
    const fullKey = this.keys.key(validateKey(key, this.tenant));
    const ttl = validateTtl(options.ttl, this.tenant);
    const tags = (options.tags ?? []).map((tag) => validateTag(tag, this.tenant));
    if (tags.length === 0) {
      await (ttl ? this.client.set(fullKey, value, 'EX', ttl) : this.client.set(fullKey, value));
      return;
    }
    const multi = this.client.multi();
    if (ttl) multi.set(fullKey, value, 'EX', ttl);
    else multi.set(fullKey, value);
    for (const tag of tags) multi.sadd(this.keys.tag(tag), key);
    await execMulti(multi);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.client.unlink(this.keys.key(validateKey(key, this.tenant)))) > 0;
  }

  async remember(
    key: string,
    compute: () => string | Promise<string>,
    options: CacheSetOptions = {},
  ): Promise<string> {
    return rememberValue(this, key, compute, options);
  }

  async increment(key: string, by = 1): Promise<number> {
    const fullKey = this.keys.key(validateKey(key, this.tenant));
    validateIncrement(by, this.tenant);
    try {
      return await this.client.incrby(fullKey, by);
    } catch (error) {
      if (/not an integer|out of range/i.test((error as Error).message)) throw notAnInteger(key, this.tenant);
      throw error;
    }
  }

  async tag(key: string, tags: string[]): Promise<void> {
    validateKey(key, this.tenant);
    const valid = tags.map((tag) => validateTag(tag, this.tenant));
    const multi = this.client.multi();
    for (const tag of valid) multi.sadd(this.keys.tag(tag), key);
    await execMulti(multi);
  }

  async clearTag(tag: string): Promise<number> {
    const tagKey = this.keys.tag(validateTag(tag, this.tenant));
    // Move the set aside first: keys tagged while we clear go into a fresh set and survive,
    // instead of losing their membership to our final UNLINK.
    const draining = `${tagKey}\u0000clearing:${process.pid}:${Date.now()}`;
    try {
      await this.client.rename(tagKey, draining);
    } catch (error) {
      if (/no such key/i.test((error as Error).message)) return 0;
      throw error;
    }
    let removed = 0;
    try {
      await this.eachTagMember(draining, async (keys) => {
        removed += await this.client.unlink(...keys);
      });
    } finally {
      await this.client.unlink(draining);
    }
    return removed;
  }

  async countTag(tag: string): Promise<number> {
    let existing = 0;
    await this.eachTagMember(this.keys.tag(validateTag(tag, this.tenant)), async (keys) => {
      existing += await this.client.exists(...keys);
    });
    return existing;
  }

  async clear(options: CacheClearOptions = {}): Promise<number> {
    let removed = 0;
    await this.walk(options, true, async (values, tags) => {
      if (values.length) removed += await this.client.unlink(...values);
      if (tags.length) await this.client.unlink(...tags);
    });
    return removed;
  }

  async count(options: CacheClearOptions = {}): Promise<number> {
    let found = 0;
    await this.walk(options, false, async (values) => {
      found += values.length;
    });
    return found;
  }

  /** Pages of every key of the tenant (values and tag sets), read-only. */
  async eachKey(page: (keys: string[]) => Promise<void>): Promise<void> {
    if (isCluster(this.client)) await this.walkSlot(this.client, undefined, () => true, false, page);
    else await this.scan(this.client, undefined, page);
  }

  /** Pages of full keys of the tag's members. */
  private async eachTagMember(tagKey: string, page: (keys: string[]) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const [next, members] = await this.client.sscan(tagKey, cursor, 'COUNT', REDIS_BATCH);
      cursor = next;
      if (members.length) await page(members.map((member) => this.keys.key(member)));
    } while (cursor !== '0');
  }

  /**
   * Visits the tenant's keys in pages, split into values and tag sets (tag sets only on a full
   * clear). Standalone: SCAN MATCH on the tenant prefix. Cluster: the tenant's one slot (its hash
   * tag), so the walk costs the tenant's keys, not the whole keyspace. `removing` tells the slot
   * walk that visited keys disappear (GETKEYSINSLOT has no cursor).
   */
  private async walk(
    options: CacheClearOptions,
    removing: boolean,
    page: (values: string[], tags: string[]) => Promise<void>,
  ): Promise<void> {
    const pattern = options.pattern === undefined ? undefined : validatePattern(options.pattern);
    // A pattern clears values only; a full clear takes the tag sets too.
    const wanted = (key: string) => pattern === undefined || !this.keys.isTagKey(key);
    const split = async (keys: string[]) => {
      const values: string[] = [];
      const tags: string[] = [];
      for (const key of keys) {
        if (!this.keys.isTagKey(key)) values.push(key);
        else if (pattern === undefined) tags.push(key);
      }
      if (values.length || tags.length) await page(values, tags);
    };
    if (isCluster(this.client)) await this.walkSlot(this.client, pattern, wanted, removing, split);
    else await this.scan(this.client, pattern, split);
  }

  private async scan(client: Redis, pattern: string | undefined, page: (keys: string[]) => Promise<void>) {
    const match = this.keys.match(pattern);
    let cursor = '0';
    // The next SCAN does not depend on this page's UNLINK: overlap them to halve the round trips.
    let previous: Promise<void> = Promise.resolve();
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', REDIS_BATCH);
      cursor = next;
      await previous;
      if (keys.length) {
        previous = page(keys);
        // Handled when awaited above/below; this only keeps Node from reporting it early.
        previous.catch(() => {});
      }
    } while (cursor !== '0');
    await previous;
  }

  private async walkSlot(
    cluster: Cluster,
    pattern: string | undefined,
    wanted: (key: string) => boolean,
    removing: boolean,
    page: (keys: string[]) => Promise<void>,
  ): Promise<void> {
    const matcher = globToRegExp(this.keys.match(pattern));
    const select = (keys: string[]) => keys.filter((key) => matcher.test(key) && wanted(key));
    const slot = await cluster.cluster('KEYSLOT', this.keys.base);
    const node = await masterForSlot(cluster, slot);
    if (!removing) {
      const total = await node.cluster('COUNTKEYSINSLOT', slot);
      const keys = total ? await node.cluster('GETKEYSINSLOT', slot, total) : [];
      const mine = select(keys);
      for (let start = 0; start < mine.length; start += REDIS_BATCH)
        await page(mine.slice(start, start + REDIS_BATCH));
      return;
    }
    // The slot can also hold keys we keep (another tenant with a colliding hash, this tenant's
    // central metadata, keys outside --key): ask for that many more than a batch each time.
    // Like SCAN, keys written during the walk may be missed: the budget ends it even while an
    // application keeps writing to the tenant.
    let budget = (await node.cluster('COUNTKEYSINSLOT', slot)) + REDIS_BATCH;
    let kept = 0;
    for (;;) {
      const asked = kept + REDIS_BATCH;
      const keys = await node.cluster('GETKEYSINSLOT', slot, asked);
      const mine = select(keys);
      kept = keys.length - mine.length;
      if (mine.length) await page(mine);
      budget -= mine.length;
      // Fewer keys than asked for: that was the whole slot.
      if (keys.length < asked || budget <= 0) return;
    }
  }
}

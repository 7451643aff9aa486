import { randomBytes } from 'node:crypto';
import type { Registry, TenantRecord } from '../registry/index.js';
import { centralDomainsKey, centralTenantKey, escapeGlob } from './keyspace.js';
import { masters } from './redis-admin.js';
import { REDIS_BATCH, type RedisClient } from './redis-store.js';

export interface WarmOptions {
  /** Seconds the built hashes live; undefined = until the next warm. */
  ttl?: number;
}

export interface WarmResult {
  domainsKey: string;
  domains: number;
  /** Metadata hashes of tenants no longer in the registry, removed. */
  removed: number;
  ttl: number | null;
}

/** A half-built hash left by a crash expires by itself after this long. */
const BUILD_TTL_SECONDS = 600;

/**
 * The metadata hash an application reads for a tenant: status, maintenance (JSON or ""), and
 * where its data is (server name, database).
 */
export function tenantMetadata(tenant: TenantRecord): Record<string, string> {
  return {
    status: tenant.status,
    maintenance: tenant.settings.maintenance ? JSON.stringify(tenant.settings.maintenance) : '',
    server: tenant.server,
    database: tenant.database,
  };
}

/**
 * Replaces a hash atomically: the fields go to a temporary key in the same slot (same hash tag),
 * which then RENAMEs over the old one, so readers see the old map or the new one, never a mix.
 */
export async function replaceHash(
  client: RedisClient,
  key: string,
  fields: Record<string, string>,
  ttl: number | undefined,
): Promise<void> {
  const entries = Object.entries(fields);
  if (entries.length === 0) {
    await client.unlink(key);
    return;
  }
  const building = `${key}:building:${randomBytes(6).toString('hex')}`;
  try {
    for (let start = 0; start < entries.length; start += REDIS_BATCH) {
      const pipeline = client.pipeline();
      pipeline.hset(building, Object.fromEntries(entries.slice(start, start + REDIS_BATCH)));
      pipeline.expire(building, BUILD_TTL_SECONDS);
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    }
    const swap = client.multi().rename(building, key);
    if (ttl) swap.expire(key, ttl);
    else swap.persist(key);
    for (const [error] of (await swap.exec()) ?? []) if (error) throw error;
  } catch (error) {
    await client.unlink(building).catch(() => 0);
    throw error;
  }
}

/** Builds the central domain → tenant hash from the registry; returns its key and size. */
export async function warmDomains(
  client: RedisClient,
  prefix: string,
  registry: Registry,
  options: WarmOptions = {},
): Promise<{ domainsKey: string; domains: number }> {
  const [tenants, allDomains] = await Promise.all([registry.listTenants({}), registry.listDomains()]);
  // Only served tenants: a half-created one (provisioning) is not in `tenants`, nor are its domains.
  const served = new Set(tenants.map((tenant) => tenant.id));
  const domains = allDomains.filter((domain) => served.has(domain.tenantId));
  const domainsKey = centralDomainsKey(prefix);
  await replaceHash(
    client,
    domainsKey,
    Object.fromEntries(domains.map((domain) => [domain.domain, domain.tenantId])),
    options.ttl,
  );
  return { domainsKey, domains: domains.length };
}

/** Builds one tenant's metadata hash. */
export async function warmTenant(
  client: RedisClient,
  prefix: string,
  tenant: TenantRecord,
  options: WarmOptions = {},
): Promise<void> {
  await replaceHash(client, centralTenantKey(prefix, tenant.id), tenantMetadata(tenant), options.ttl);
}

/** Removes metadata hashes of tenants not in `current`; returns how many. */
export async function removeStaleMetadata(
  client: RedisClient,
  prefix: string,
  current: Set<string>,
): Promise<number> {
  const start = centralTenantKey(prefix, '');
  // `…{<id>}` exactly: temporary `…:building:…` keys of a concurrent warm do not match.
  const match = `${escapeGlob(start.slice(0, -1))}*}`;
  let removed = 0;
  for (const node of masters(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', REDIS_BATCH);
      cursor = next;
      const stale = keys.filter((key) => !current.has(key.slice(start.length - 1, -1)));
      // One UNLINK per key: in a cluster each tenant's key lives in its own slot.
      for (const key of stale) removed += await client.unlink(key);
    } while (cursor !== '0');
  }
  return removed;
}

/** The remaining TTL of a key in seconds, undefined when it has none (or does not exist). */
async function remainingTtl(client: RedisClient, key: string): Promise<number | undefined> {
  const ttl = await client.ttl(key);
  return ttl > 0 ? ttl : undefined;
}

/**
 * After a change to where a tenant lives or whether it is served (a move): rebuilds the domain
 * lookup and the tenant's metadata hash, each only when a warm built it before, with the TTL it
 * had left. Nothing is created for a fleet that never ran cache warm.
 */
export async function refreshTenantLookup(
  client: RedisClient,
  prefix: string,
  registry: Registry,
  tenant: TenantRecord,
): Promise<void> {
  const domainsKey = centralDomainsKey(prefix);
  if (await client.exists(domainsKey)) {
    await warmDomains(client, prefix, registry, { ttl: await remainingTtl(client, domainsKey) });
  }
  const tenantKey = centralTenantKey(prefix, tenant.id);
  if (await client.exists(tenantKey)) {
    await warmTenant(client, prefix, tenant, { ttl: await remainingTtl(client, tenantKey) });
  }
}

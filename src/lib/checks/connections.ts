import { ServiceError, driverMessage } from '../errors.js';
import { registrySchemaVersion } from '../registry/index.js';
import { tenantLocation } from '../tenants/index.js';
import { forTenant, withDatabase } from './probes.js';
import type { Check } from './types.js';

const round = (ms: number) => Math.round(ms * 10) / 10;

export const connectionChecks: Check[] = [
  {
    id: 'connections.central',
    category: 'connections',
    title: 'central registry reachable',
    remedy: 'check "central" in the config or AFTY_CENTRAL_URL, and that the server is running',
    scope: 'global',
    async run(ctx) {
      const started = performance.now();
      const version = await withDatabase(ctx.afty.config.central, (db) => registrySchemaVersion(db));
      const latencyMs = round(performance.now() - started);
      if (version === undefined) {
        return {
          status: 'fail',
          message: 'the central database has no registry schema',
          remedy: 'afty init',
          details: { latencyMs },
        };
      }
      return {
        status: 'pass',
        message: `registry schema ${version}, ${latencyMs} ms`,
        details: { latencyMs, schema: version },
      };
    },
  },
  {
    id: 'connections.server',
    category: 'connections',
    title: 'database server reachable',
    remedy: 'check servers.<name> in the config and that the server is running',
    scope: 'server',
    async run(_ctx, server) {
      const { version, latencyMs } = await server.ping();
      return {
        status: 'pass',
        message: `${server.description}: ${version}, ${round(latencyMs)} ms`,
        details: { version, latencyMs: round(latencyMs) },
      };
    },
  },
  {
    id: 'connections.tenant',
    category: 'connections',
    title: "tenant database reachable with the tenant's own credentials",
    remedy: 'afty diagnose --fix (recreates a missing database or user)',
    scope: 'tenant',
    async run(ctx, tenant) {
      const location = tenantLocation(ctx.afty, tenant);
      const user = location.driver === 'sqlite' ? undefined : location.connection.user;
      const started = performance.now();
      try {
        await withDatabase(location, (db) => db.raw('SELECT 1'));
      } catch (error) {
        if (error instanceof ServiceError) throw error;
        return {
          status: 'fail',
          message: `cannot open ${tenant.database}${user ? ` as ${user}` : ''}: ${driverMessage(error)}`,
          remedy: forTenant('diagnose --fix', tenant),
        };
      }
      const latencyMs = round(performance.now() - started);
      return {
        status: 'pass',
        message: `${tenant.database}${user ? ` as ${user}` : ''}: ${latencyMs} ms`,
        details: { latencyMs, user: user ?? null },
      };
    },
  },
  {
    id: 'connections.redis',
    category: 'connections',
    title: 'Redis reachable',
    remedy: 'check cache.url / AFTY_REDIS_URL and that Redis is running',
    scope: 'global',
    async run(ctx) {
      const { url, connectTimeoutMs } = ctx.afty.config.cache;
      if (!url)
        return { status: 'skip', message: 'no Redis configured: the cache lives in each tenant database' };
      const { pingRedis } = await import('../cache/connection.js');
      const { version, latencyMs } = await pingRedis(url, connectTimeoutMs);
      return {
        status: 'pass',
        message: `Redis ${version}, ${round(latencyMs)} ms`,
        details: { version, latencyMs: round(latencyMs) },
      };
    },
  },
];

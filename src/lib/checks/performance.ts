import type { Knex } from 'knex';
import { createKnex } from '../servers/knex.js';
import type { TenantRecord } from '../registry/index.js';
import { tenantLocation } from '../tenants/index.js';
import { latencyStats, withDatabase, type LatencyStats } from './probes.js';
import type { CheckContext, CheckOutcome, GlobalCheck } from './types.js';

/** Query latency samples per tenant in the sample. */
const QUERIES_PER_TENANT = 20;
/** Tenants the latency probes visit (the load uses up to one per worker). */
const LATENCY_TENANTS = 5;

const describe = (stats: LatencyStats) => `p50 ${stats.p50} ms, p95 ${stats.p95} ms, p99 ${stats.p99} ms`;

function judge(stats: LatencyStats, limitMs: number, what: string, flag: string): CheckOutcome {
  const details = { ...stats, limitMs };
  if (stats.count === 0) return { status: 'skip', message: 'no tenants selected' };
  if (stats.p95 > limitMs) {
    return {
      status: 'fail',
      message: `${what} p95 ${stats.p95} ms is above ${limitMs} ms (${describe(stats)})`,
      details,
      remedy: `look at the server's load and network; raise the limit with ${flag} if it is expected`,
    };
  }
  return { status: 'pass', message: `${what}: ${describe(stats)} over ${stats.count} samples`, details };
}

/** Runs work and adds its duration in ms to samples. */
async function timed(samples: number[], work: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  await work();
  samples.push(performance.now() - started);
}

async function latencyTenants(ctx: CheckContext): Promise<TenantRecord[]> {
  return (await ctx.selected()).slice(0, LATENCY_TENANTS);
}

const connectLatency: GlobalCheck = {
  id: 'performance.connect',
  category: 'performance',
  title: 'connection open and tenant switch latency',
  remedy: 'look at the server load, DNS and TLS set-up; raise the limit with --max-connect',
  scope: 'global',
  async run(ctx) {
    const tenants = await latencyTenants(ctx);
    const open: number[] = [];
    // A switch is what a request for another tenant costs: the next tenant's connection and first query.
    for (let round = 0; round < 3; round += 1) {
      for (const tenant of tenants) {
        await timed(open, () => withDatabase(tenantLocation(ctx.afty, tenant), (db) => db.raw('SELECT 1')));
      }
    }
    return judge(latencyStats(open), ctx.options.maxConnectMs, 'connect + first query', '--max-connect');
  },
};

const queryLatency: GlobalCheck = {
  id: 'performance.query',
  category: 'performance',
  title: 'query latency p50/p95/p99 on an open connection',
  remedy: 'look at the server load; raise the limit with --max-latency',
  scope: 'global',
  async run(ctx) {
    const samples: number[] = [];
    for (const tenant of await latencyTenants(ctx)) {
      await withDatabase(tenantLocation(ctx.afty, tenant), async (db) => {
        await db.raw('SELECT 1');
        for (let index = 0; index < QUERIES_PER_TENANT; index += 1)
          await timed(samples, () => db.raw('SELECT 1'));
      });
    }
    return judge(latencyStats(samples), ctx.options.maxLatencyMs, 'query', '--max-latency');
  },
};

const load: GlobalCheck = {
  id: 'performance.load',
  category: 'performance',
  title: 'bounded concurrent load: throughput, latency and error rate',
  remedy: 'look at max_connections, the server load and the error details; lower --workers to find the limit',
  scope: 'global',
  async run(ctx) {
    const { workers, durationMs, maxErrorRate, maxLatencyMs } = ctx.options;
    const tenants = (await ctx.selected()).slice(0, workers);
    if (tenants.length === 0) return { status: 'skip', message: 'no tenants selected' };
    // One pool per tenant, sized so the whole load holds at most workers + tenants connections.
    const poolMax = Math.ceil(workers / tenants.length);
    const pools: Knex[] = await Promise.all(
      tenants.map((tenant) =>
        createKnex(tenantLocation(ctx.afty, tenant), { poolMax, connectTimeoutMs: 3000 }),
      ),
    );
    const samples: number[] = [];
    const errors = new Map<string, number>();
    const deadline = performance.now() + durationMs;
    const started = performance.now();
    try {
      await Promise.all(
        Array.from({ length: workers }, async (_, worker) => {
          const db = pools[worker % pools.length]!;
          while (performance.now() < deadline) {
            const begin = performance.now();
            try {
              await db.raw('SELECT 1');
              samples.push(performance.now() - begin);
            } catch (error) {
              const key = (error as { code?: string }).code ?? (error as Error).message;
              errors.set(key, (errors.get(key) ?? 0) + 1);
            }
          }
        }),
      );
    } finally {
      await Promise.all(pools.map((db) => db.destroy()));
    }
    const elapsedS = (performance.now() - started) / 1000;
    const failed = [...errors.values()].reduce((sum, count) => sum + count, 0);
    const total = samples.length + failed;
    const errorRate = total === 0 ? 1 : failed / total;
    const stats = latencyStats(samples);
    const throughput = Math.round(samples.length / elapsedS);
    const details = {
      workers,
      tenants: tenants.length,
      durationMs,
      queries: total,
      throughput,
      errorRate,
      errors: Object.fromEntries(errors),
      ...stats,
    };
    const summary = `${throughput} queries/s with ${workers} workers on ${tenants.length} tenant(s), ${describe(stats)}, ${(errorRate * 100).toFixed(2)}% errors`;
    if (errorRate > maxErrorRate) {
      return {
        status: 'fail',
        message: `error rate above ${(maxErrorRate * 100).toFixed(2)}%: ${summary}`,
        details,
      };
    }
    if (stats.p95 > maxLatencyMs) {
      return { status: 'fail', message: `p95 under load above ${maxLatencyMs} ms: ${summary}`, details };
    }
    return { status: 'pass', message: summary, details };
  },
};

export const performanceChecks: GlobalCheck[] = [connectLatency, queryLatency, load];

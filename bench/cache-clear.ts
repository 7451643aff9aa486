/**
 * bench/cache-clear: clearing one tenant's cache out of 1,000,000 keys across 100 tenants.
 *
 *   npm run bench -- cache-clear [--reps N] [--skip-cluster]
 *
 * Standalone Redis (database 15, unique prefix): clear a 10,000-key and a 200,000-key tenant with
 * (a) `redis-cli --scan --pattern … | xargs redis-cli unlink`, (b) a minimal ioredis SCAN MATCH
 * COUNT 1000 + UNLINK script and (c) afty's RedisTenantCache.clear(); target (c) ≤ 1.2 × (b). A
 * worker thread PINGs Redis on its own socket throughout; target worst PING ≤ 50 ms. Cluster
 * (127.0.0.1:7001-7003): the same two clears walk the tenant's slot, so the time follows the
 * tenant's keys, not the 1,000,000 (compared with a SCAN of every master). Keys are removed after.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Cluster, Redis } from 'ioredis';
import { connectRedis, connectRedisCluster } from '../src/lib/cache/connection.js';
import { RedisTenantCache, TenantKeyspace, type RedisClient } from '../src/lib/cache/index.js';
import { masterForSlot } from '../src/lib/cache/redis-store.js';
import { median, ratio, report } from './_util.js';

const TOTAL_KEYS = 1_000_000;
const TENANTS = 100;
const SMALL = { id: 'bench-small', keys: 10_000 };
const LARGE = { id: 'bench-large', keys: 200_000 };
const STANDALONE_URL = process.env.AFTY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const CLUSTER_SEED = process.env.AFTY_BENCH_REDIS_CLUSTER ?? 'redis://127.0.0.1:7001';
const args = process.argv.slice(2);
const repsFlag = args.indexOf('--reps');
const REPS = repsFlag === -1 ? 5 : Number(args[repsFlag + 1]);
const prefix = `afty-bench-${randomBytes(3).toString('hex')}:`;

/** The other 98 tenants share what is left of the million. */
function fleet(): Array<{ id: string; keys: number }> {
  const others = TENANTS - 2;
  const rest = TOTAL_KEYS - SMALL.keys - LARGE.keys;
  return [
    SMALL,
    LARGE,
    ...Array.from({ length: others }, (_, index) => ({
      id: `bench-${String(index).padStart(2, '0')}`,
      keys: Math.floor(rest / others) + (index < rest % others ? 1 : 0),
    })),
  ];
}

/** One tenant's keys, pipelined (a tenant's keys share a slot, so this also works on a cluster). */
async function load(client: RedisClient, tenant: string, keys: number): Promise<void> {
  const keyspace = new TenantKeyspace(prefix, tenant);
  for (let start = 0; start < keys; start += 10_000) {
    const pipeline = client.pipeline();
    for (let index = start; index < Math.min(keys, start + 10_000); index += 1)
      pipeline.set(keyspace.key(`k:${index}`), `value-${index}`);
    await pipeline.exec();
  }
}

/** Worst PING round trip on a separate socket and thread while `work` runs. */
async function withPingMonitor<T>(
  url: string,
  work: () => Promise<T>,
): Promise<{ value: T; ping: PingFigures }> {
  const { hostname, port } = new URL(url);
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const socket = require('node:net').connect(workerData.port, workerData.host);
    socket.setNoDelay(true);
    let sent = 0, stopping = false;
    const rtts = [];
    const ping = () => { sent = performance.now(); socket.write('PING\\r\\n'); };
    socket.on('connect', () => { parentPort.postMessage('ready'); ping(); });
    socket.on('data', () => {
      rtts.push(performance.now() - sent);
      if (!stopping) return setTimeout(ping, 1);
      socket.end();
      rtts.sort((a, b) => a - b);
      parentPort.postMessage({ worstMs: rtts[rtts.length - 1], p99Ms: rtts[Math.floor(rtts.length * 0.99)], pings: rtts.length });
    });
    parentPort.on('message', () => { stopping = true; });
    `,
    { eval: true, workerData: { host: hostname, port: Number(port || 6379) } },
  );
  await new Promise((resolve) => worker.once('message', resolve));
  const value = await work();
  const worst = new Promise<PingFigures>((resolve) => worker.once('message', resolve));
  worker.postMessage('stop');
  const ping = await worst;
  await worker.terminate();
  return { value, ping };
}

interface PingFigures {
  worstMs: number;
  p99Ms: number;
  pings: number;
}

/** The worst of several runs' PING figures, rounded for the report. */
function worstOf(runs: PingFigures[]): { worstMs: number; p99Ms: number } {
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    worstMs: round(Math.max(...runs.map((run) => run.worstMs))),
    p99Ms: round(Math.max(...runs.map((run) => run.p99Ms))),
  };
}

/**
 * The longest server-side time (SLOWLOG, commands of 1 ms or more) of any command naming our
 * prefix while `work` runs: what the clear itself blocks Redis for, apart from OS scheduling.
 */
async function withSlowlog<T>(
  node: Redis,
  work: () => Promise<T>,
): Promise<{ value: T; longestCommandMs: number }> {
  const saved = (await node.config('GET', 'slowlog-*')) as string[];
  await node.config('SET', 'slowlog-log-slower-than', '1000');
  await node.config('SET', 'slowlog-max-len', '10000');
  await node.slowlog('RESET');
  try {
    const value = await work();
    const entries = (await node.slowlog('GET', 10000)) as Array<[number, number, number, string[]]>;
    const ours = entries.filter(([, , , command]) => command.some((arg) => String(arg).includes(prefix)));
    return { value, longestCommandMs: Math.max(0, ...ours.map(([, , micros]) => micros / 1000)) };
  } finally {
    for (let index = 0; index < saved.length; index += 2)
      await node.config('SET', saved[index]!, saved[index + 1]!);
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return Math.round(performance.now() - started);
}

/** (a) What an operator types. */
function shellClear(tenant: string): Promise<void> {
  const { hostname, port, pathname } = new URL(STANDALONE_URL);
  const cli = `redis-cli -h ${hostname} -p ${port || 6379} -n ${pathname.slice(1) || 0}`;
  const pattern = new TenantKeyspace(prefix, tenant).match();
  execFileSync('bash', ['-c', `${cli} --scan --pattern '${pattern}' | xargs ${cli} unlink > /dev/null`]);
  return Promise.resolve();
}

/** (b) The minimal script: SCAN MATCH COUNT 1000, UNLINK each page. */
async function scriptClear(client: Redis, match: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await client.unlink(...keys);
  } while (cursor !== '0');
}

async function standalone(): Promise<Record<string, unknown>> {
  const client = await connectRedis(STANDALONE_URL);
  try {
    const loadMs = await timed(async () => {
      for (const tenant of fleet()) await load(client, tenant.id, tenant.keys);
    });
    const keyspaceKeys = await client.dbsize();
    // What the machine gives with nothing running, to read the figures below against.
    const { ping: idle } = await withPingMonitor(STANDALONE_URL, () => sleep(3000));
    const figures: Record<string, unknown> = {
      url: STANDALONE_URL,
      loadMs,
      keyspaceKeys,
      idlePing: worstOf([idle]),
    };
    for (const tenant of [SMALL, LARGE]) {
      const methods = {
        shell: () => shellClear(tenant.id),
        script: () => scriptClear(client, new TenantKeyspace(prefix, tenant.id).match()),
        afty: () => new RedisTenantCache(client, tenant.id, prefix).clear(),
      };
      const times: Record<string, number[]> = { shell: [], script: [], afty: [] };
      const pings: Record<string, PingFigures[]> = { shell: [], script: [], afty: [] };
      const longest: Record<string, number> = { shell: 0, script: 0, afty: 0 };
      for (let rep = 0; rep < REPS; rep += 1) {
        // Interleaved so drift (memory, caches) hits every method alike.
        for (const [name, clear] of Object.entries(methods)) {
          if (name === 'shell' && rep > 0) continue; // seconds per run; one is enough to compare
          await load(client, tenant.id, tenant.keys);
          const { value, ping } = await withPingMonitor(STANDALONE_URL, () =>
            withSlowlog(client, () => timed(clear)),
          );
          times[name]!.push(value.value);
          pings[name]!.push(ping);
          longest[name] = Math.max(longest[name]!, value.longestCommandMs);
          if ((await new RedisTenantCache(client, tenant.id, prefix).count()) !== 0)
            throw new Error(`${name} left keys of ${tenant.id}`);
        }
      }
      const [shell, script, afty] = [median(times.shell!), median(times.script!), median(times.afty!)];
      figures[`${tenant.keys}Keys`] = {
        shellMs: shell,
        scriptMs: script,
        aftyMs: afty,
        aftyRuns: times.afty,
        scriptRuns: times.script,
        aftyVsScript: ratio(afty, script),
        target: '≤ 1.2',
        aftyMinMs: Math.min(...times.afty!),
        scriptMinMs: Math.min(...times.script!),
        aftyVsScriptBest: ratio(Math.min(...times.afty!), Math.min(...times.script!)),
        ping: Object.fromEntries(Object.entries(pings).map(([name, runs]) => [name, worstOf(runs)])),
        longestRedisCommandMs: longest,
        pingTarget: '≤ 50 (afty)',
      };
    }
    return figures;
  } finally {
    await scriptClear(client, `${prefix}*`);
    client.disconnect();
  }
}

async function cluster(): Promise<Record<string, unknown>> {
  const client: Cluster = await connectRedisCluster(CLUSTER_SEED);
  try {
    const loadMs = await timed(async () => {
      for (const tenant of fleet()) await load(client, tenant.id, tenant.keys);
    });
    const figures: Record<string, unknown> = {
      seed: CLUSTER_SEED,
      masters: client.nodes('master').length,
      loadMs,
    };
    const slotWalk: Record<string, number> = {};
    for (const tenant of [SMALL, LARGE]) {
      const runs: number[] = [];
      const pings: PingFigures[] = [];
      let longestCommandMs = 0;
      for (let rep = 0; rep < REPS; rep += 1) {
        await load(client, tenant.id, tenant.keys);
        const slot = await client.cluster('KEYSLOT', new TenantKeyspace(prefix, tenant.id).base);
        const owner = client.slots[slot]![0]!;
        const node = await masterForSlot(client, slot);
        const { value, ping } = await withPingMonitor(`redis://${owner}`, () =>
          withSlowlog(node, () => timed(() => new RedisTenantCache(client, tenant.id, prefix).clear())),
        );
        runs.push(value.value);
        pings.push(ping);
        longestCommandMs = Math.max(longestCommandMs, value.longestCommandMs);
      }
      slotWalk[tenant.id] = median(runs);
      figures[`${tenant.keys}Keys`] = {
        slotWalkMs: median(runs),
        runs,
        msPer10kKeys: Math.round((median(runs) / tenant.keys) * 10_000 * 10) / 10,
        ping: worstOf(pings),
        longestRedisCommandMs: longestCommandMs,
      };
    }
    // For contrast: the same small clear by SCAN on every master visits the whole million.
    await load(client, SMALL.id, SMALL.keys);
    figures.scanEveryMasterSmallMs = await timed(async () => {
      for (const node of client.nodes('master'))
        await scriptClear(node, new TenantKeyspace(prefix, SMALL.id).match());
    });
    figures.largeOverSmallTime = ratio(slotWalk[LARGE.id]!, slotWalk[SMALL.id]!);
    figures.largeOverSmallKeys = LARGE.keys / SMALL.keys;
    return figures;
  } finally {
    for (const tenant of fleet()) await new RedisTenantCache(client, tenant.id, prefix).clear();
    client.disconnect();
  }
}

const figures: Record<string, unknown> = {
  totalKeys: TOTAL_KEYS,
  tenants: TENANTS,
  reps: REPS,
  standalone: await standalone(),
};
if (!args.includes('--skip-cluster')) figures.cluster = await cluster();
report('cache-clear', figures);

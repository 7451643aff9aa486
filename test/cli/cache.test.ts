import assert from 'node:assert/strict';
import net from 'node:net';
import type { Cluster, Redis } from 'ioredis';
import { connectRedis, connectRedisCluster } from '../../src/lib/cache/connection.js';
import {
  RedisTenantCache,
  TenantKeyspace,
  centralDomainsKey,
  centralTenantKey,
  type RedisClient,
} from '../../src/lib/cache/index.js';
import { createTenant } from '../../src/lib/tenants/index.js';
import { updateTenantSettings } from '../../src/lib/tenants/update.js';
import { redisSnapshot, unlinkPrefix } from '../integration/cache-suite.js';
import { runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import {
  REDIS_URL,
  redisClusterSeed,
  requireRedis,
  requireRedisCluster,
  uniqueToken,
} from '../support/services.js';

interface ClearJson {
  store: string;
  dryRun: boolean;
  removed: number;
  tenants: Array<{ tenant: string; status: string; removed: number | null }>;
}
interface ErrorJson {
  error: { code: string; message: string; exitCode: number };
}

async function addTenants(project: TestProject): Promise<void> {
  const ctx = await project.context();
  try {
    await createTenant(ctx, { id: 'acme', domains: ['acme.test', 'www.acme.test'] });
    const globex = await createTenant(ctx, { id: 'globex', domains: ['globex.test'] });
    await updateTenantSettings(await ctx.registry(), globex, {
      maintenance: 'on',
      message: 'upgrading',
      allowIps: ['10.0.0.1'],
      retryAfter: 60,
    });
  } finally {
    await ctx.close();
  }
}

/** Writes the same key names for both tenants, tags included. */
async function seed(client: RedisClient, prefix: string): Promise<void> {
  for (const tenant of ['acme', 'globex']) {
    const cache = new RedisTenantCache(client, tenant, prefix);
    for (let index = 0; index < 20; index += 1) await cache.set(`user:${index}`, `${tenant}-${index}`);
    await cache.set('product:1', 'p1', { tags: ['products'] });
    await cache.set('product:2', 'p2', { tags: ['products'] });
    await cache.set('page:home', 'html', { ttl: 600 });
  }
  await client.hset(centralDomainsKey(prefix), { 'acme.test': 'acme' });
}

/** A TCP port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('afty cache (CLI)', function () {
  this.timeout(120_000);

  describe('on standalone Redis', () => {
    let project: TestProject;
    let client: Redis;
    let prefix: string;
    const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
    const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
    const tenantKeys = (tenant: string) => redisSnapshot(client, new TenantKeyspace(prefix, tenant).match());

    before(async () => {
      await requireRedis(REDIS_URL);
      project = createProject({ driver: 'sqlite' });
      project.env.AFTY_REDIS_URL = REDIS_URL;
      prefix = (project.config.cache as { prefix: string }).prefix;
      client = await connectRedis(REDIS_URL);
      await addTenants(project);
    });
    beforeEach(async () => {
      await unlinkPrefix(client, prefix);
      await seed(client, prefix);
    });
    after(async () => {
      await unlinkPrefix(client, prefix);
      client.disconnect();
      await project.cleanup();
    });

    it('status reports store, version, mode, memory, policy and keys per tenant', async () => {
      const { json: status, exitCode } = await json<{
        store: string;
        target: string;
        reachable: boolean;
        version: string;
        mode: string;
        nodes: number;
        usedMemoryBytes: number;
        maxmemoryPolicy: string[];
        warnings: string[];
        tenants: Array<{ tenant: string; keys: number; tags: number }>;
      }>(['cache', 'status', '--all']);
      assert.equal(exitCode, 0);
      assert.equal(status.store, 'redis');
      assert.equal(status.reachable, true);
      assert.match(status.version, /^\d+\.\d+/);
      assert.equal(status.mode, 'standalone');
      assert.equal(status.nodes, 1);
      assert.ok(status.usedMemoryBytes > 0, 'status.usedMemoryBytes > 0');
      assert.equal(status.maxmemoryPolicy.length, 1);
      assert.deepEqual(status.tenants, [
        { tenant: 'acme', keys: 23, tags: 1 },
        { tenant: 'globex', keys: 23, tags: 1 },
      ]);
      const text = await cli(['cache', 'status']);
      assert.equal(text.exitCode, 0);
      assert.match(text.stdout, /Mode: +standalone/);
      assert.match(text.stdout, /maxmemory-policy/);
    });

    it('status warns when the eviction policy can evict tenant keys', async () => {
      const original = (await client.config('GET', 'maxmemory-policy')) as string[];
      await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      try {
        const { json: status } = await json<{ warnings: string[] }>(['cache', 'status']);
        assert.equal(status.warnings.length, 1);
        assert.match(status.warnings[0]!, /allkeys-lru can evict any key.*volatile-lru/);
      } finally {
        await client.config('SET', 'maxmemory-policy', original[1]!);
      }
    });

    it('clear --dry-run counts and removes nothing; clear removes one tenant only', async () => {
      const before = await redisSnapshot(client, `${prefix}*`);
      const dry = await json<ClearJson>(['cache', 'clear', '--tenant', 'acme', '--dry-run']);
      assert.equal(dry.exitCode, 0);
      assert.equal(dry.json.dryRun, true);
      assert.equal(dry.json.removed, 23);
      assert.equal(await redisSnapshot(client, `${prefix}*`), before);

      const globex = await tenantKeys('globex');
      const central = await redisSnapshot(client, `${prefix}central:*`);
      const cleared = await cli(['cache', 'clear', '--tenant', 'acme.test']);
      assert.equal(cleared.exitCode, 0, cleared.stderr);
      assert.match(cleared.stdout, /acme .*ok.*23 keys removed/);
      assert.match(cleared.stdout, /23 keys removed \(redis: redis:\/\/127\.0\.0\.1:6379\/0\)/);
      assert.equal(await tenantKeys('acme'), '');
      assert.equal(await tenantKeys('globex'), globex);
      assert.equal(await redisSnapshot(client, `${prefix}central:*`), central);
    });

    it('clear --tag and --key touch only the matching keys of the selected tenant', async () => {
      const globex = await tenantKeys('globex');
      const tag = await json<ClearJson>(['cache', 'clear', '-t', 'acme', '--tag', 'products']);
      assert.equal(tag.exitCode, 0);
      assert.deepEqual(
        tag.json.tenants.map(({ tenant, status, removed }) => ({ tenant, status, removed })),
        [{ tenant: 'acme', status: 'ok', removed: 2 }],
      );
      const keyed = await json<ClearJson>(['cache', 'clear', '-t', 'acme', '--key', 'user:1*']);
      assert.equal(keyed.json.removed, 11);
      const acme = new RedisTenantCache(client, 'acme', prefix);
      assert.equal(await acme.count(), 10);
      assert.equal(await acme.get('page:home'), 'html');
      assert.equal(await tenantKeys('globex'), globex);
    });

    it('clear --all asks for --force without a terminal, then clears every tenant', async () => {
      const before = await redisSnapshot(client, `${prefix}*`);
      const refused = await cli(['cache', 'clear', '--all']);
      assert.equal(refused.exitCode, 2);
      assert.match(
        refused.stderr,
        /refusing to clear the cache of 2 tenants without confirmation — pass --force/,
      );
      assert.equal(await redisSnapshot(client, `${prefix}*`), before);

      const central = await redisSnapshot(client, `${prefix}central:*`);
      const cleared = await json<ClearJson>(['cache', 'clear', '--all', '--force']);
      assert.equal(cleared.exitCode, 0);
      assert.equal(cleared.json.removed, 46);
      assert.equal(await tenantKeys('acme'), '');
      assert.equal(await tenantKeys('globex'), '');
      assert.notEqual(central, '');
      assert.equal(await redisSnapshot(client, `${prefix}central:*`), central);
    });

    it('bad input exits 2 with one clear line and changes nothing', async () => {
      const before = await redisSnapshot(client, `${prefix}*`);
      const cases: Array<[string[], RegExp]> = [
        [['cache', 'clear'], /Which tenants\?: no selection given — pass --tenant ID/],
        [['cache', 'clear', '-t', 'acme', '--key', 'user:['], /invalid key pattern "user:\[": unclosed \[/],
        [['cache', 'clear', '-t', 'acme', '--tag', 'a\u0001b'], /invalid cache tag/],
        [['cache', 'clear', '-t', 'nobody'], /no tenant with id or domain "nobody"/],
        [['cache', 'clear', '-t', 'acme', '--tag', 'x', '--key', 'y'], /--tag and --key cannot be combined/],
        [['cache', 'stats', '--samples', '0'], /Parsing --samples/],
        [['cache', 'warm', '--ttl', 'soon'], /invalid --ttl "soon"/],
        [['cache', 'warm', '--ttl', '0'], /--ttl must be at least 1 second/],
      ];
      for (const [args, message] of cases) {
        const result = await cli(args);
        assert.equal(result.exitCode, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      }
      const asJson = await json<ErrorJson>(['cache', 'clear', '-t', 'acme', '--key', 'user:[']);
      assert.equal(asJson.exitCode, 2);
      assert.equal(asJson.json.error.exitCode, 2);
      assert.equal(await redisSnapshot(client, `${prefix}*`), before);
    });

    it('stats reports keys and memory per tenant, sampled beyond --samples, largest first', async () => {
      await new RedisTenantCache(client, 'globex', prefix).set('big', 'x'.repeat(100_000));
      const { json: stats, exitCode } = await json<{
        samples: number;
        totals: { tenants: number; keys: number; tags: number; bytes: number };
        tenants: Array<{
          tenant: string;
          keys: number;
          tags: number;
          bytes: number;
          sampled: number;
          estimated: boolean;
        }>;
      }>(['cache', 'stats', '--samples', '5']);
      assert.equal(exitCode, 0);
      assert.equal(stats.samples, 5);
      assert.deepEqual(
        Object.fromEntries(
          stats.tenants.map(({ tenant, keys, tags, sampled, estimated }) => [
            tenant,
            { keys, tags, sampled, estimated },
          ]),
        ),
        {
          globex: { keys: 24, tags: 1, sampled: 5, estimated: true },
          acme: { keys: 23, tags: 1, sampled: 5, estimated: true },
        },
      );
      assert.ok(stats.tenants[0]!.bytes >= stats.tenants[1]!.bytes, 'largest first');
      const exact = await json<typeof stats>(['cache', 'stats', '-t', 'globex', '--samples', '1000']);
      assert.deepEqual(
        exact.json.tenants.map(({ keys, sampled, estimated }) => ({ keys, sampled, estimated })),
        [{ keys: 24, sampled: 25, estimated: false }],
      );
      assert.ok(exact.json.tenants[0]!.bytes > 100_000, 'exact.json.tenants[0]!.bytes > 100_000');
      const top = await cli(['cache', 'stats', '--top', '1', '--samples', '1000']);
      assert.equal(top.exitCode, 0);
      assert.match(top.stdout, /globex .* 24 .* 1 .* ~?\d/);
      assert.doesNotMatch(top.stdout, /^acme /m);
      assert.match(top.stdout, /2 tenants \(top 1 shown\): 47 keys, 2 tags/);
    });

    it('warm builds the domain map and tenant metadata atomically, with --ttl, and drops deleted tenants', async () => {
      await client.hset(centralTenantKey(prefix, 'ghost'), { status: 'active' });
      const { json: warm, exitCode } = await json<{
        domainsKey: string;
        domains: number;
        tenants: Array<{ tenant: string; status: string }>;
        totals: { tenants: number; ok: number };
        removed: number;
        ttl: number;
      }>(['cache', 'warm', '--ttl', '1h']);
      assert.equal(exitCode, 0);
      assert.deepEqual(
        {
          domainsKey: warm.domainsKey,
          domains: warm.domains,
          removed: warm.removed,
          ttl: warm.ttl,
          tenants: warm.tenants.map(({ tenant, status }) => [tenant, status]),
          ok: warm.totals.ok,
        },
        {
          domainsKey: centralDomainsKey(prefix),
          domains: 3,
          removed: 1,
          ttl: 3600,
          tenants: [
            ['acme', 'ok'],
            ['globex', 'ok'],
          ],
          ok: 2,
        },
      );
      assert.deepEqual(await client.hgetall(centralDomainsKey(prefix)), {
        'acme.test': 'acme',
        'www.acme.test': 'acme',
        'globex.test': 'globex',
      });
      const globex = await client.hgetall(centralTenantKey(prefix, 'globex'));
      assert.equal(globex.status, 'active');
      assert.match(globex.database!, /globex/);
      assert.deepEqual(JSON.parse(globex.maintenance!), {
        message: 'upgrading',
        allow_ips: ['10.0.0.1'],
        retry_after: 60,
      });
      assert.equal((await client.hgetall(centralTenantKey(prefix, 'acme'))).maintenance, '');
      assert.equal(await client.exists(centralTenantKey(prefix, 'ghost')), 0);
      const ttl = await client.ttl(centralDomainsKey(prefix));
      assert.ok(ttl > 3500 && ttl <= 3600, `ttl ${ttl}`);
      assert.equal(await redisSnapshot(client, `${prefix}central:*building*`), '', 'no temporary keys left');

      const again = await cli(['cache', 'warm']);
      assert.equal(again.exitCode, 0);
      assert.match(
        again.stdout,
        /Warmed .*central:\{domains\} \(3 domains\) and 2 tenant metadata hashes; no TTL/,
      );
      assert.equal(await client.ttl(centralDomainsKey(prefix)), -1);
      // Tenant keys are not touched by a warm.
      assert.equal(await new RedisTenantCache(client, 'acme', prefix).count(), 23);
    });
  });

  describe('with Redis down or misconfigured', () => {
    let project: TestProject;
    before(async () => {
      project = createProject({ driver: 'sqlite' });
      await addTenants(project);
    });
    after(() => project.cleanup());

    it('exits 3 quickly with the redacted URL, for every command, refused or silent', async () => {
      const refused = `redis://:hunter2@127.0.0.1:${await closedPort()}/0`;
      // A listener that accepts and never answers (a frozen Redis): only afty's timeout ends it.
      const sockets = new Set<net.Socket>();
      const listener = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('data', () => {});
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const silent = `redis://:hunter2@127.0.0.1:${(listener.address() as net.AddressInfo).port}/0`;
      try {
        // The commands of one URL at once: each must still end within its own time limit.
        for (const url of [refused, silent]) {
          const commands = [
            ['cache', 'status'],
            ['cache', 'clear', '-t', 'acme'],
            ['cache', 'warm'],
            ['cache', 'stats'],
          ];
          await Promise.all(
            commands.map(async (args) => {
              const started = Date.now();
              const result = await runCli(args, {
                cwd: project.dir,
                env: { ...project.env, AFTY_REDIS_URL: url },
              });
              const elapsed = Date.now() - started;
              assert.equal(result.exitCode, 3, `${args.join(' ')} ${url}: ${result.stderr}`);
              assert.ok(elapsed < 4500, `${args.join(' ')} took ${elapsed} ms`);
              assert.match(
                result.stderr,
                /cannot reach Redis at redis:\/\/:\*\*\*@.* — check that Redis is running/,
              );
              assert.doesNotMatch(result.stderr + result.stdout, /hunter2|Unhandled error event/);
            }),
          );
        }
      } finally {
        for (const socket of sockets) socket.destroy();
        listener.close();
      }
    });

    it('exits 3 quickly for a dead cluster seed too', async () => {
      const dead = createProject({
        driver: 'sqlite',
        config: { cache: { url: `redis://:hunter2@127.0.0.1:${await closedPort()}`, cluster: true } },
      });
      try {
        const started = Date.now();
        const result = await runCli(['cache', 'status', '--json'], { cwd: dead.dir, env: dead.env });
        assert.equal(result.exitCode, 3, result.stderr);
        assert.ok(Date.now() - started < 4500, 'Date.now() - started < 4500');
        const { error } = JSON.parse(result.stdout) as ErrorJson;
        assert.equal(error.exitCode, 3);
        assert.match(error.message, /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
        assert.doesNotMatch(result.stderr + result.stdout, /hunter2|Unhandled error event/);
      } finally {
        await dead.cleanup();
      }
    });

    it('refuses a cluster node configured as a standalone Redis (exit 2, names the key)', async () => {
      await requireRedisCluster();
      const result = await runCli(['cache', 'status'], {
        cwd: project.dir,
        env: { ...project.env, AFTY_REDIS_URL: redisClusterSeed() },
      });
      assert.equal(result.exitCode, 2);
      assert.match(result.stderr, /is a cluster node — set "cache": \{"cluster": true\}/);
    });
  });

  describe('on Redis Cluster', () => {
    let project: TestProject;
    let cluster: Cluster;
    const prefix = `afty-test-${uniqueToken()}:`;
    const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });

    before(async () => {
      await requireRedisCluster();
      project = createProject({
        driver: 'sqlite',
        config: { cache: { prefix, url: redisClusterSeed(), cluster: true } },
      });
      cluster = await connectRedisCluster(redisClusterSeed());
      await addTenants(project);
      await seed(cluster, prefix);
    });
    after(async () => {
      // Nothing to undo when the cluster was never reachable (the before hook says why).
      if (cluster) {
        await unlinkPrefix(cluster, prefix);
        cluster.disconnect();
      }
      await project?.cleanup();
    });

    it('status, stats, clear and warm work across the masters', async () => {
      const status = await json<{ mode: string; nodes: number; tenants: Array<{ keys: number }> }>([
        'cache',
        'status',
        '--all',
      ]);
      assert.equal(status.exitCode, 0, status.stderr);
      assert.equal(status.json.mode, 'cluster');
      assert.equal(status.json.nodes, 3);
      assert.deepEqual(
        status.json.tenants.map((row) => row.keys),
        [23, 23],
      );
      const stats = await json<{ totals: { keys: number; tags: number } }>(['cache', 'stats']);
      assert.deepEqual(stats.json.totals.keys, 46);

      const globex = await redisSnapshot(cluster, new TenantKeyspace(prefix, 'globex').match());
      const warm = await json<{ domains: number }>(['cache', 'warm']);
      assert.equal(warm.json.domains, 3);
      const central = await redisSnapshot(cluster, `${prefix}central:*`);
      const cleared = await json<ClearJson>(['cache', 'clear', '-t', 'acme', '--force']);
      assert.equal(cleared.json.removed, 23);
      assert.equal(await redisSnapshot(cluster, new TenantKeyspace(prefix, 'acme').match()), '');
      assert.equal(await redisSnapshot(cluster, new TenantKeyspace(prefix, 'globex').match()), globex);
      assert.equal(await redisSnapshot(cluster, `${prefix}central:*`), central);
    });
  });

  describe('on the database store (no Redis configured)', () => {
    let project: TestProject;
    const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });

    before(async () => {
      project = createProject({ driver: 'sqlite' });
      await addTenants(project);
      const ctx = await project.context();
      try {
        const { openCacheService } = await import('../../src/lib/cache/service.js');
        const service = await openCacheService(ctx);
        const registry = await ctx.registry();
        for (const id of ['acme', 'globex']) {
          await service.withTenant((await registry.findTenant(id))!, async (cache) => {
            for (let index = 0; index < 5; index += 1)
              await cache.set(`user:${index}`, 'u', { tags: ['users'] });
          });
        }
      } finally {
        await ctx.close();
      }
    });
    after(() => project.cleanup());

    it('status, stats and clear use afty_cache; warm explains it needs Redis', async () => {
      const status = await json<{
        store: string;
        tenants: Array<{ tenant: string; keys: number; tags: number }>;
      }>(['cache', 'status', '--all']);
      assert.equal(status.json.store, 'database');
      assert.deepEqual(status.json.tenants, [
        { tenant: 'acme', keys: 5, tags: 1 },
        { tenant: 'globex', keys: 5, tags: 1 },
      ]);
      const stats = await json<{ tenants: Array<{ bytes: number; estimated: boolean }> }>(['cache', 'stats']);
      assert.ok(
        stats.json.tenants.every((row) => row.bytes > 0 && !row.estimated),
        'stats.json.tenants.every((row) => row.bytes > 0 && !row.estimated)',
      );
      const tag = await json<ClearJson>(['cache', 'clear', '-t', 'acme', '--tag', 'users', '--dry-run']);
      assert.equal(tag.json.removed, 5);
      const cleared = await json<ClearJson>(['cache', 'clear', '-t', 'acme', '--key', 'user:[0-2]']);
      assert.equal(cleared.json.store, 'database');
      assert.equal(cleared.json.removed, 3);
      const after = await json<{ tenants: Array<{ keys: number }> }>(['cache', 'status', '--all']);
      assert.deepEqual(
        after.json.tenants.map((row) => row.keys),
        [2, 5],
      );
      const warm = await runCli(['cache', 'warm'], { cwd: project.dir, env: project.env });
      assert.equal(warm.exitCode, 2);
      assert.match(warm.stderr, /cache warm needs Redis.*set cache\.url or AFTY_REDIS_URL/);
    });
  });
});

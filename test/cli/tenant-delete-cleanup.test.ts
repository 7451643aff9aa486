import assert from 'node:assert/strict';
import { connectRedis, connectRedisCluster } from '../../src/lib/cache/connection.js';
import { centralDomainsKey, centralTenantKey } from '../../src/lib/cache/keyspace.js';
import { RedisTenantCache, type RedisClient } from '../../src/lib/cache/redis-store.js';
import { redisSnapshot, unlinkPrefix } from '../integration/cache-suite.js';
import { runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import {
  mariadbAdmin,
  REDIS_URL,
  redisClusterSeed,
  requireMariaDb,
  requireRedis,
  requireRedisCluster,
  uniqueToken,
} from '../support/services.js';

/**
 * Delete `reuse1`, create `reuse1` again, and the new tenant read the old customer's cached card
 * number: tenant delete left the tenant's Redis keys. It also left the restore safety copies,
 * which backup prune then never removed.
 */
for (const mode of ['standalone', 'cluster'] as const) {
  describe(`tenant delete removes the tenant's cache keys and safety copies (CLI, MariaDB, Redis ${mode})`, function () {
    this.timeout(240_000);
    let project: TestProject;
    let client: RedisClient;
    let prefix: string;
    const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
    const ok = async (args: string[]) => {
      const result = await cli(args);
      assert.equal(result.exitCode, 0, `${args.join(' ')}: ${result.stderr}`);
      return result;
    };
    const databases = async (like: string) => {
      const admin = await mariadbAdmin();
      try {
        const [rows] = (await admin.raw(
          'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ? ORDER BY 1',
          [like],
        )) as [Array<{ name: string }>];
        return rows.map((row) => row.name);
      } finally {
        await admin.destroy();
      }
    };

    before(async () => {
      await requireMariaDb();
      await (mode === 'cluster' ? requireRedisCluster() : requireRedis(REDIS_URL));
      prefix = `afty-test-${uniqueToken()}:`;
      project = createProject({
        driver: 'mariadb',
        config: {
          cache:
            mode === 'cluster'
              ? { url: redisClusterSeed(), cluster: true, prefix }
              : { url: REDIS_URL, prefix },
        },
      });
      await project.createCentral();
      client =
        mode === 'cluster' ? await connectRedisCluster(redisClusterSeed()) : await connectRedis(REDIS_URL);
      await ok(['tenant', 'create', 'reuse1', '--domain', 'reuse1.test']);
      await ok(['tenant', 'create', 'keeper', '--domain', 'keeper.test']);
    });
    after(async () => {
      await unlinkPrefix(client, prefix);
      client?.disconnect();
      await project?.cleanup();
    });

    it('clears the keyspace, the central entries and the safety copies; a new reuse1 reads nothing of the old one', async () => {
      const old = new RedisTenantCache(client, 'reuse1', prefix);
      await old.set('card', '4111 1111 1111 1111');
      await old.set('orders', '12', { tags: ['billing'] });
      await new RedisTenantCache(client, 'keeper', prefix).set('card', 'keeper-card');
      await ok(['cache', 'warm']);
      await ok(['backup', 'create', '-t', 'reuse1']);
      await ok(['backup', 'restore', '-t', 'reuse1', '--latest', '--force']);
      const database = `${project.prefix}reuse1`;
      assert.equal((await databases(`${database}$s%`)).length, 1, 'the restore left a safety copy');
      const keeperBefore = await redisSnapshot(client, `${prefix}t:{keeper}:*`);

      const deleted = await runJson<{ backup: string | null; safetyCopies: string[]; cacheKeys: number }>(
        ['tenant', 'delete', 'reuse1', '--force'],
        { cwd: project.dir, env: project.env },
      );
      assert.equal(deleted.exitCode, 0, deleted.stderr);
      assert.ok(deleted.json.backup, 'backed up first');
      assert.equal(deleted.json.safetyCopies.length, 1);
      assert.equal(deleted.json.cacheKeys, 2);
      assert.deepEqual(await databases(`${database}%`), []);
      assert.equal(await redisSnapshot(client, `${prefix}t:{reuse1}:*`), '');
      assert.equal(await client.exists(centralTenantKey(prefix, 'reuse1')), 0);
      assert.equal(await client.hget(centralDomainsKey(prefix), 'reuse1.test'), null);
      assert.equal(await client.hget(centralDomainsKey(prefix), 'keeper.test'), 'keeper');
      assert.equal(await redisSnapshot(client, `${prefix}t:{keeper}:*`), keeperBefore);

      await ok(['tenant', 'create', 'reuse1', '--domain', 'reuse1.test']);
      assert.equal(await new RedisTenantCache(client, 'reuse1', prefix).get('card'), null);
    });

    it("backup prune removes the safety copies of a deleted tenant, found through its backups' manifests", async () => {
      await ok(['tenant', 'create', 'gone']);
      await ok(['backup', 'create', '-t', 'gone']);
      await ok(['tenant', 'delete', 'gone', '--force', '--no-backup']);
      // What an earlier afty left behind: a safety copy that outlived its tenant.
      const orphan = `${project.prefix}gone$s250101000000000`;
      const admin = await mariadbAdmin();
      try {
        await admin.raw('CREATE DATABASE ??', [orphan]);
      } finally {
        await admin.destroy();
      }
      const dry = await runJson<{
        results: Array<{ tenant: string; removed: Array<{ kind: string; name: string }> }>;
      }>(['backup', 'prune', '--all', '--dry-run'], { cwd: project.dir, env: project.env });
      const planned = dry.json.results.find((result) => result.tenant === 'gone')!;
      assert.deepEqual(
        planned.removed.filter((item) => item.kind === 'safety-copy').map((item) => item.name),
        [orphan],
      );
      assert.deepEqual(await databases(orphan), [orphan], 'a dry run removes nothing');
      await ok(['backup', 'prune', '--all', '--force']);
      assert.deepEqual(await databases(orphan), []);
    });
  });
}

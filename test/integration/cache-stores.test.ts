import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Cluster, Redis } from 'ioredis';
import { connectRedis, connectRedisCluster } from '../../src/lib/cache/connection.js';
import {
  DatabaseTenantCache,
  RedisTenantCache,
  TenantKeyspace,
  centralDomainsKey,
  centralTenantKey,
  type RedisClient,
} from '../../src/lib/cache/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import {
  REDIS_URL,
  mariadbAdmin,
  postgresAdmin,
  redisClusterSeed,
  requireMariaDb,
  requirePostgres,
  requireRedis,
  requireRedisCluster,
  uniqueToken,
} from '../support/services.js';
import { redisSnapshot, tenantCacheBehaviour, unlinkPrefix, type StoreHarness } from './cache-suite.js';

function redisHarness(client: () => RedisClient, prefix: string): StoreHarness {
  return {
    async open(tenant) {
      return new RedisTenantCache(client(), tenant, prefix);
    },
    snapshot: (tenant) => redisSnapshot(client(), new TenantKeyspace(prefix, tenant).match()),
    central: {
      async write(tenant) {
        await client().hset(centralDomainsKey(prefix), { [`${tenant}.example.com`]: tenant });
        await client().hset(centralTenantKey(prefix, tenant), { status: 'active', database: `db_${tenant}` });
      },
      read: (tenant) =>
        redisSnapshot(client(), `${prefix}central:*${tenant}*`).then(async (own) => {
          const domains = await client().hgetall(centralDomainsKey(prefix));
          return `${own}\n${JSON.stringify(domains)}`;
        }),
    },
  };
}

describe('cache stores: the same behaviour everywhere', function () {
  this.timeout(60_000);

  describe('Redis (standalone)', () => {
    const prefix = `afty-test-${uniqueToken()}:`;
    let client: Redis;
    before(async () => {
      await requireRedis(REDIS_URL);
      client = await connectRedis(REDIS_URL);
    });
    after(async () => {
      await unlinkPrefix(client, prefix);
      client.disconnect();
    });
    tenantCacheBehaviour(() => redisHarness(() => client, prefix));
  });

  describe('Redis Cluster', () => {
    const prefix = `afty-test-${uniqueToken()}:`;
    let cluster: Cluster;
    before(async () => {
      await requireRedisCluster();
      cluster = await connectRedisCluster(redisClusterSeed());
    });
    after(async () => {
      await unlinkPrefix(cluster, prefix);
      cluster.disconnect();
    });
    tenantCacheBehaviour(() => redisHarness(() => cluster, prefix));

    it('a slot walk clears only the tenant even when another tenant hashes to the same slot', async () => {
      // Find two tenant ids whose hash tags land in the same slot.
      const ids = Array.from({ length: 1500 }, (_, index) => `slot-${index}`);
      const slots = await Promise.all(ids.map((id) => cluster.cluster('KEYSLOT', `{${id}}`)));
      const seen = new Map<number, string>();
      let pair: [string, string] | undefined;
      slots.forEach((slot, index) => {
        const other = seen.get(slot);
        if (other && !pair) pair = [other, ids[index]!];
        seen.set(slot, ids[index]!);
      });
      assert.ok(pair, 'no colliding pair among 1500 ids');
      const [a, b] = pair.map((id) => new RedisTenantCache(cluster, id, prefix));
      for (let index = 0; index < 2500; index += 1) {
        await a!.set(`k${index}`, 'a');
        if (index % 2) await b!.set(`k${index}`, 'b', { tags: ['odd'] });
      }
      const before = await redisSnapshot(cluster, new TenantKeyspace(prefix, b!.tenant).match());
      assert.equal(await a!.count({ pattern: 'k1*' }), 1111);
      assert.equal(await a!.clear({ pattern: 'k1*' }), 1111);
      assert.equal(await a!.clear(), 1389);
      assert.equal(await a!.count(), 0);
      assert.equal(await redisSnapshot(cluster, new TenantKeyspace(prefix, b!.tenant).match()), before);
      assert.equal(await b!.count(), 1250);
    });
  });

  describe('database store (MariaDB)', () => {
    const token = uniqueToken();
    const databases = new Map<string, Knex>();
    let admin: Knex;
    before(async () => {
      await requireMariaDb();
      admin = await mariadbAdmin();
    });
    after(async () => {
      for (const [name, db] of databases) {
        await db.destroy();
        await admin.raw('DROP DATABASE IF EXISTS ??', [name]);
      }
      await admin.destroy();
    });
    const connect = async (tenant: string) => {
      const name = `afty_cache_${token}_${tenant.replace(/-/g, '_')}`;
      let db = databases.get(name);
      if (!db) {
        await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci', [name]);
        // A few connections, so that concurrent writes commit together.
        db = await createKnex(
          { driver: 'mysql', connection: { host: '127.0.0.1', port: 3306, user: 'root', database: name } },
          { poolMax: 4 },
        );
        databases.set(name, db);
      }
      return db;
    };
    tenantCacheBehaviour(() => databaseHarness(connect));
  });

  for (const isolation of ['database', 'schema'] as const) {
    describe(`database store (PostgreSQL, a ${isolation} per tenant)`, () => {
      const token = uniqueToken();
      const shared = `afty_cache_${token}`;
      const tenants = new Map<string, Knex>();
      let admin: Knex;
      before(async () => {
        await requirePostgres();
        admin = await postgresAdmin();
        if (isolation === 'schema') await admin.raw(`CREATE DATABASE "${shared}"`);
      });
      after(async () => {
        for (const db of tenants.values()) await db.destroy();
        const names = (await admin.raw('SELECT datname FROM pg_database WHERE datname LIKE ?', [
          `${shared}%`,
        ])) as { rows: Array<{ datname: string }> };
        for (const { datname } of names.rows) await admin.raw(`DROP DATABASE "${datname}" WITH (FORCE)`);
        await admin.destroy();
      });
      const connect = async (tenant: string) => {
        let db = tenants.get(tenant);
        if (!db) {
          const name = `${shared}_${tenant.replace(/-/g, '_')}`;
          const connection = { host: '127.0.0.1', port: 5432, user: 'postgres' };
          if (isolation === 'schema') {
            const sharedDb = await postgresAdmin(shared);
            await sharedDb.raw(`CREATE SCHEMA "${name}"`);
            await sharedDb.destroy();
            db = await createKnex({
              driver: 'postgres',
              connection: { ...connection, database: shared },
              schema: name,
            });
          } else {
            await admin.raw(`CREATE DATABASE "${name}"`);
            db = await createKnex({ driver: 'postgres', connection: { ...connection, database: name } });
          }
          tenants.set(tenant, db);
        }
        return db;
      };
      tenantCacheBehaviour(() => databaseHarness(connect));

      it('keeps keys and values as bytea, byte-exact, and reports usage (afty cache stats)', async () => {
        const db = await connect('stats');
        const cache = new DatabaseTenantCache(db, 'stats');
        await cache.set('Key', 'a');
        await cache.set('key', 'b', { tags: ['t'] });
        await cache.set('key ', 'c', { ttl: 60 });
        assert.deepEqual(
          [await cache.get('Key'), await cache.get('key'), await cache.get('key ')],
          ['a', 'b', 'c'],
        );
        const columns = (await db.raw(
          "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name LIKE 'afty\\_cache%' AND data_type = 'bytea' ORDER BY 1, 2",
        )) as { rows: Array<{ table_name: string; column_name: string }> };
        assert.deepEqual(
          columns.rows.map((row) => `${row.table_name}.${row.column_name}`),
          ['afty_cache.cache_key', 'afty_cache.value', 'afty_cache_tags.cache_key', 'afty_cache_tags.tag'],
        );
        const usage = await cache.usage();
        assert.deepEqual(
          { keys: usage.keys, tags: usage.tags, bytes: usage.bytes },
          { keys: 3, tags: 1, bytes: 3 + 3 + 4 + 3 },
        );
        assert.equal(await cache.clear(), 3);
        assert.equal((await cache.usage()).keys, 0);
      });
    });
  }

  describe('database store (SQLite)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'afty-cache-'));
    const databases = new Map<string, Knex>();
    after(async () => {
      for (const db of databases.values()) await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    });
    const connect = async (tenant: string) => {
      let db = databases.get(tenant);
      if (!db) {
        db = await createKnex({ driver: 'sqlite', filename: path.join(dir, `${tenant}.sqlite`) });
        databases.set(tenant, db);
      }
      return db;
    };
    tenantCacheBehaviour(() => databaseHarness(connect));

    it('reading and clearing a tenant that never cached anything creates no tables', async () => {
      const db = await connect('untouched');
      const cache = new DatabaseTenantCache(db, 'untouched');
      assert.equal(await cache.get('x'), null);
      assert.equal(await cache.clear(), 0);
      assert.equal(await cache.count({ pattern: '*' }), 0);
      assert.equal(await cache.clearTag('t'), 0);
      assert.equal(await db.schema.hasTable('afty_cache'), false);
      await cache.set('x', 'y');
      assert.equal(await db.schema.hasTable('afty_cache'), true);
      assert.equal(await db.schema.hasTable('afty_cache_tags'), true);
    });
  });
});

function databaseHarness(connect: (tenant: string) => Promise<Knex>): StoreHarness {
  return {
    async open(tenant) {
      return new DatabaseTenantCache(await connect(tenant), tenant);
    },
    async snapshot(tenant) {
      const db = await connect(tenant);
      if (!(await db.schema.hasTable('afty_cache'))) return '';
      const rows = (await db('afty_cache').orderBy('cache_key')) as Array<Record<string, unknown>>;
      const tags = (await db('afty_cache_tags').orderBy(['tag', 'cache_key'])) as Array<
        Record<string, unknown>
      >;
      const hex = (row: Record<string, unknown>) =>
        Object.entries(row)
          .map(([key, value]) => `${key}=${Buffer.isBuffer(value) ? value.toString('hex') : String(value)}`)
          .join(' ');
      return [...rows.map(hex), ...tags.map(hex)].join('\n');
    },
  };
}

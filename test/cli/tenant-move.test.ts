import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { connectRedis } from '../../src/lib/cache/connection.js';
import { centralTenantKey } from '../../src/lib/cache/keyspace.js';
import type { RedisClient } from '../../src/lib/cache/redis-store.js';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import { revealPassword } from '../../src/lib/tenants/index.js';
import { seedTenant, tableChecksums } from '../integration/backup-fixture.js';
import { unlinkPrefix } from '../integration/cache-suite.js';
import { runCli, runJson, runUntilPaused } from '../support/cli.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-servers.js';
import { createProject, type TestProject } from '../support/project.js';
import { MARIADB_URL, REDIS_URL, requireMariaDb, requireRedis, uniqueToken } from '../support/services.js';

interface MoveJsonTenant {
  tenant: string;
  status: string;
  error: string | null;
  from: string | null;
  to: string | null;
  moved: boolean;
  downtimeMs: number | null;
  maintenance: string | null;
  keptSource: string | null;
  tables: number | null;
  recovered: string | null;
}

/**
 * Moves between two real servers: the shared MariaDB ("main") and a private mariadbd ("priv"),
 * one for the whole file. The tenant holds tables, a view, a trigger, a procedure and a function.
 */
describe('tenant move between the shared MariaDB and a private mariadbd (CLI)', function () {
  this.timeout(600_000);
  let server: PrivateMariaDb;
  let project: TestProject;
  let ctx: AftyContext;
  let redis: RedisClient;
  let cachePrefix: string;
  let original: Record<string, string>;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const ok = async (args: string[]) => {
    const result = await cli(args);
    assert.equal(result.exitCode, 0, `${args.join(' ')}: ${result.stderr}`);
    return result;
  };
  const record = async (): Promise<TenantRecord> => (await (await ctx.registry()).findTenant('shop'))!;
  const journal = () => path.join(project.dir, 'backups', 'shop', '.move-journal.json');

  /** Databases of the tenant on one server, by name (the live one and its companions). */
  async function databasesOn(name: 'main' | 'priv'): Promise<string[]> {
    const tenant = await record();
    return ctx.servers.get(name).listDatabases(tenant.database);
  }

  async function connect(
    name: 'main' | 'priv',
    credentials?: { user: string; password: string },
  ): Promise<Knex> {
    const tenant = await record();
    return createKnex(ctx.servers.get(name).tenantLocation(tenant.database, credentials), {
      connectTimeoutMs: 5000,
    });
  }

  async function checksumsOn(name: 'main' | 'priv'): Promise<Record<string, string>> {
    const db = await connect(name);
    try {
      return await tableChecksums(db, 'mysql');
    } finally {
      await db.destroy();
    }
  }

  /** Exactly one copy under the tenant's name, where the registry says, holding the original data. */
  async function assertOneLiveCopy(): Promise<'main' | 'priv'> {
    const tenant = await record();
    const here = tenant.server as 'main' | 'priv';
    const other = here === 'main' ? 'priv' : 'main';
    assert.ok((await databasesOn(here)).includes(tenant.database), `the data is on "${here}"`);
    assert.ok(!(await databasesOn(other)).includes(tenant.database), `no second live copy on "${other}"`);
    assert.deepEqual(await checksumsOn(here), original);
    return here;
  }

  before(async () => {
    await requireMariaDb();
    await requireRedis();
    server = await startPrivateMariaDb();
    cachePrefix = `afty-test-${uniqueToken()}:`;
    project = createProject({
      driver: 'mariadb',
      config: {
        servers: { main: MARIADB_URL, priv: server.url },
        cache: { url: REDIS_URL, prefix: cachePrefix },
      },
    });
    await project.createCentral();
    await ok(['tenant', 'create', 'shop', '--server', 'main', '--domain', 'shop.example.com']);
    ctx = await project.context();
    const admin = await connect('main');
    try {
      await seedTenant(admin, 'mysql', 120);
      await admin.raw('CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2');
    } finally {
      await admin.destroy();
    }
    original = await checksumsOn('main');
    redis = await connectRedis(REDIS_URL);
    await ok(['cache', 'warm']);
  });

  after(async () => {
    if (redis) await unlinkPrefix(redis, cachePrefix).catch(() => undefined);
    redis?.disconnect();
    await ctx?.close();
    await server?.stop();
    await project?.cleanup();
  });

  it('moves: data checksum-identical, its own user works on the target only, registry and cache switched, source kept', async () => {
    const before = await record();
    const moved = await runJson<{ tenants: MoveJsonTenant[] }>(['tenant', 'move', 'shop', '--to', 'priv'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(moved.exitCode, 0, moved.stderr);
    const [result] = moved.json.tenants;
    assert.equal(result!.status, 'ok');
    assert.equal(result!.from, 'main');
    assert.equal(result!.to, 'priv');
    assert.equal(result!.moved, true);
    assert.equal(result!.maintenance, 'during the move');
    assert.ok(result!.downtimeMs! > 0 && result!.downtimeMs! < 60_000);
    assert.match(result!.keptSource!, new RegExp(`^${before.database}\\$m\\d{15}$`));

    const after = await record();
    assert.equal(after.server, 'priv');
    assert.equal(after.settings.maintenance, undefined, 'maintenance is off again');
    assert.equal(await assertOneLiveCopy(), 'priv');

    const credentials = { user: after.dbUser!, password: revealPassword(after, project.env.AFTY_SECRET)! };
    const own = await connect('priv', credentials);
    try {
      const [rows] = (await own.raw('SELECT COUNT(*) AS n FROM posts')) as [Array<{ n: number }>];
      assert.equal(Number(rows[0]!.n), 120);
      const [called] = (await own.raw('SELECT twice(21) AS v')) as [Array<{ v: number }>];
      assert.equal(Number(called[0]!.v), 42);
    } finally {
      await own.destroy();
    }
    const stale = await connect('main', credentials);
    try {
      await assert.rejects(stale.raw('SELECT 1'), /Access denied/);
    } finally {
      await stale.destroy();
    }

    assert.deepEqual(await databasesOn('main'), [result!.keptSource]);
    assert.equal(await redis.hget(centralTenantKey(cachePrefix, 'shop'), 'server'), 'priv');
    assert.equal(await redis.hget(`${cachePrefix}central:{domains}`, 'shop.example.com'), 'shop');

    const again = await runJson<{ tenants: MoveJsonTenant[] }>(['tenant', 'move', 'shop', '--to', 'priv'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(again.exitCode, 0);
    assert.equal(again.json.tenants[0]!.moved, false, 'a second move to the same server does nothing');

    const pruned = await runJson<{ tenants: Array<{ removed: Array<{ kind: string; name: string }> }> }>(
      ['backup', 'prune', '-t', 'shop', '--keep', '1', '--max-age', '0h', '--force'],
      { cwd: project.dir, env: project.env },
    );
    assert.equal(pruned.exitCode, 0, pruned.stderr);
    assert.deepEqual(await databasesOn('main'), [], 'backup prune removes the kept source');
  });

  it('refuses an unknown server, a clash on the target and --drop-source without --force, changing nothing', async () => {
    const unknown = await cli(['tenant', 'move', 'shop', '--to', 'nowhere']);
    assert.equal(unknown.exitCode, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown server "nowhere"/);

    const tenant = await record();
    const other = tenant.server === 'main' ? 'priv' : 'main';
    await ctx.servers.get(other).createDatabase(tenant.database);
    try {
      const clash = await cli(['tenant', 'move', 'shop', '--to', other]);
      // Checked per tenant, as the fleet does: that tenant fails (exit 1), nothing changed.
      assert.equal(clash.exitCode, 1);
      assert.match(
        clash.stdout,
        new RegExp(`database ${tenant.database} already exists on server "${other}"`),
      );
    } finally {
      await ctx.servers.get(other).dropDatabase(tenant.database);
    }
    const unconfirmed = await cli(['tenant', 'move', 'shop', '--to', other, '--drop-source']);
    assert.equal(unconfirmed.exitCode, 2);
    assert.match(unconfirmed.stderr, /--force/);
    assert.equal((await record()).server, tenant.server);
    assert.equal(await assertOneLiveCopy(), tenant.server);
    assert.ok(!existsSync(journal()));
  });

  /** Kill points in the order they are reached; before "move switch" the move is undone, after it finished. */
  const KILL_POINTS = [
    'move maintenance',
    'move copy',
    'move verify',
    'move user',
    'rename tables',
    'move place',
    'move switch',
    'move cache',
    'move source',
  ];
  const SWITCHED = new Set(['move switch', 'move cache', 'move source']);

  for (const [index, step] of KILL_POINTS.entries()) {
    const recover = index % 3 === 2 ? 'diagnose --fix' : 'a second move';
    it(`killed -9 after "${step}", ${recover} converges: one live copy, never none`, async () => {
      const from = (await record()).server as 'main' | 'priv';
      const to = from === 'main' ? 'priv' : 'main';
      const paused = await runUntilPaused(
        ['tenant', 'move', 'shop', '--to', to, '--drop-source', '--force'],
        step,
        {
          cwd: project.dir,
          env: project.env,
        },
      );
      paused.child.kill('SIGKILL');
      await paused.ended;
      assert.ok(existsSync(journal()), 'the journal says a move was cut short');
      const switched = SWITCHED.has(step);
      assert.equal((await record()).server, switched ? to : from);
      // Served from one place, with all of its data, even while cut short.
      const live = (await record()).server as 'main' | 'priv';
      assert.ok((await databasesOn(live)).includes((await record()).database));
      assert.deepEqual(await checksumsOn(live), original);

      if (recover === 'diagnose --fix') {
        const fixed = await cli(['diagnose', '--fix']);
        assert.match(
          fixed.stdout + fixed.stderr,
          switched ? /finished the interrupted move of shop/ : /undid the interrupted move of shop/,
        );
      } else {
        const again = await runJson<{ tenants: MoveJsonTenant[] }>(
          ['tenant', 'move', 'shop', '--to', to, '--drop-source', '--force'],
          {
            cwd: project.dir,
            env: project.env,
          },
        );
        assert.equal(again.exitCode, 0, again.stderr);
        assert.match(
          again.json.tenants[0]!.recovered!,
          switched ? /finished the interrupted move of shop/ : /undid the interrupted move of shop/,
        );
      }
      assert.ok(!existsSync(journal()), 'the journal is gone');
      const now = await assertOneLiveCopy();
      if (recover !== 'diagnose --fix' || switched) assert.equal(now, to);
      const tenant = await record();
      assert.equal(tenant.settings.maintenance, undefined, 'maintenance is off again');
      for (const name of ['main', 'priv'] as const) {
        assert.deepEqual(
          (await databasesOn(name)).filter((database) => database !== tenant.database),
          [],
          `no scratch, placeholder or kept copy left on "${name}"`,
        );
      }
      const users = await ctx.servers.get(now === 'main' ? 'priv' : 'main').userExists(tenant.dbUser!);
      assert.equal(users, false, 'the tenant user exists on its server only');
    });
  }
  it('servers list: tenants, size, connections against max_connections and version per server', async () => {
    const listed = await runJson<{ servers: Array<Record<string, unknown>> }>(['servers', 'list'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(listed.exitCode, 0, listed.stderr);
    const here = (await record()).server;
    const byName = new Map(listed.json.servers.map((row) => [row.name, row]));
    assert.deepEqual([...byName.keys()], ['main', 'priv']);
    for (const [name, row] of byName) {
      assert.equal(row.driver, 'mysql');
      assert.equal(row.error, null);
      assert.equal(row.tenants, name === here ? 1 : 0);
      assert.ok((row.bytes as number) > (name === here ? 0 : -1));
      assert.ok(
        (row.connections as number) >= 1 && (row.connections as number) <= (row.maxConnections as number),
      );
      assert.match(row.version as string, /MariaDB/);
      assert.doesNotMatch(JSON.stringify(row), /password/i);
    }
  });

  it('servers plan --balance proposes the moves, --apply runs them as one run', async () => {
    const here = (await record()).server;
    const there = here === 'main' ? 'priv' : 'main';
    for (const id of ['spare-one', 'spare-two']) await ok(['tenant', 'create', id, '--server', here]);
    const planned = await runJson<{ moves: Array<{ tenant: string; to: string; command: string }> }>(
      ['servers', 'plan', '--balance', '--by', 'count'],
      { cwd: project.dir, env: project.env },
    );
    assert.equal(planned.exitCode, 0, planned.stderr);
    assert.equal(planned.json.moves.length, 1, '3 against 0: one move makes it 2 against 1');
    const [move] = planned.json.moves;
    assert.equal(move!.to, there);
    assert.equal(move!.command, `afty tenant move ${move!.tenant} --to ${there}`);
    assert.equal(
      (await (await ctx.registry()).findTenant(move!.tenant))!.server,
      here,
      'a plan changes nothing',
    );

    const refused = await cli(['servers', 'plan', '--balance', '--by', 'count', '--apply']);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /--force/);
    const applied = await runJson<{
      applied: { tenants: Array<{ tenant: string; status: string }> };
      run: string;
    }>(['servers', 'plan', '--balance', '--by', 'count', '--apply', '--force'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(applied.exitCode, 0, applied.stderr);
    assert.deepEqual(
      applied.json.applied.tenants.map((row) => [row.tenant, row.status]),
      [[move!.tenant, 'ok']],
    );
    assert.match(applied.json.run, /^r\d/);
    assert.equal((await (await ctx.registry()).findTenant(move!.tenant))!.server, there);
    const again = await runJson<{ moves: unknown[] }>(['servers', 'plan', '--balance', '--by', 'count'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.deepEqual(again.json.moves, [], 'balanced now');
  });

  it('a fleet move (--all --server) runs on the fleet engine: confirmation, per-server limit, one run record', async () => {
    const registry = await ctx.registry();
    const on = async (name: string) =>
      (await registry.listTenants({ server: [name] })).map((tenant) => tenant.id).sort();
    const from = (await on('main')).length >= (await on('priv')).length ? 'main' : 'priv';
    const to = from === 'main' ? 'priv' : 'main';
    const moving = await on(from);
    assert.ok(moving.length >= 2);
    const unconfirmed = await cli(['tenant', 'move', '--all', '--server', from, '--to', to]);
    assert.equal(unconfirmed.exitCode, 2);
    assert.deepEqual(await on(from), moving, 'nothing moved without --force');
    const moved = await runJson<{ tenants: MoveJsonTenant[]; run: string }>(
      ['tenant', 'move', '--all', '--server', from, '--to', to, '--per-server', '1', '--force'],
      { cwd: project.dir, env: project.env },
    );
    assert.equal(moved.exitCode, 0, moved.stderr);
    assert.deepEqual(
      moved.json.tenants.map((row) => [row.tenant, row.status, row.to]).sort(),
      moving.map((id) => [id, 'ok', to]),
    );
    for (const row of moved.json.tenants) assert.ok(row.downtimeMs! > 0);
    assert.deepEqual(await on(from), []);
    const run = await runJson<{ tenants: Array<{ tenant: string; status: string }> }>(
      ['runs', 'show', moved.json.run],
      {
        cwd: project.dir,
        env: project.env,
      },
    );
    assert.equal(run.exitCode, 0, run.stderr);
    assert.deepEqual(run.json.tenants.map((row) => row.tenant).sort(), moving);
  });

  it('servers list names a server it cannot reach and exits 3', async () => {
    await server.crash();
    try {
      const listed = await runJson<{ servers: Array<{ name: string; error: string | null }> }>(
        ['servers', 'list'],
        {
          cwd: project.dir,
          env: project.env,
        },
      );
      assert.equal(listed.exitCode, 3);
      assert.match(listed.json.servers.find((row) => row.name === 'priv')!.error!, /cannot reach|connect/i);
      assert.equal(listed.json.servers.find((row) => row.name === 'main')!.error, null);
    } finally {
      await server.restart();
    }
  });
});

import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MigrateJson } from '../../src/commands/db/migrate.js';
import type { StatusJson } from '../../src/commands/db/status.js';
import { migrateTenant, tenantStatus } from '../../src/lib/migrations/migrator.js';
import { TenantMigrationSource } from '../../src/lib/migrations/source.js';
import { createProject, type TestProject } from '../support/project.js';
import { ROOT, runCli, runJson } from '../support/cli.js';
import { mariadbAdmin, requireMariaDb } from '../support/services.js';
import { writeScripts } from '../integration/migrations-fixture.js';

type Admin = Awaited<ReturnType<typeof mariadbAdmin>>;

/** knex's own CLI from node_modules, as an application would run it. */
const KNEX_CLI = path.join(ROOT, 'node_modules/knex/bin/cli.js');

/** A default knexfile: the tenant database from KNEX_DB, the project's migrations directory. */
const KNEXFILE = `module.exports = {
  client: 'mysql2',
  connection: { host: '127.0.0.1', port: 3306, user: 'root', database: process.env.KNEX_DB },
  migrations: { directory: './migrations/tenant' },
};
`;

const USERS = `export async function up(knex) {
  await knex.schema.createTable('users', (t) => {
    t.increments('id');
    t.string('name', 100).notNullable().unique();
    t.text('bio');
  });
}
export async function down(knex) {
  await knex.schema.dropTable('users');
}
`;

const TEAMS = `module.exports = {
  async up(knex) {
    await knex.schema.createTable('teams', (t) => {
      t.increments('id');
      t.string('label', 50);
      t.integer('user_id').unsigned().references('id').inTable('users');
    });
  },
  async down(knex) {
    await knex.schema.dropTable('teams');
  },
};
`;

/** A migration that writes bootstrap rows (with a time, which a snapshot check must not flag). */
const ROLES = `export async function up(knex) {
  await knex.schema.createTable('roles', (t) => {
    t.increments('id');
    t.string('name', 30).notNullable().unique();
    t.timestamp('created_at').defaultTo(knex.fn.now());
  });
  await knex('roles').insert([{ name: 'owner', created_at: new Date() }, { name: 'member' }]);
}
export async function down(knex) {
  await knex.schema.dropTable('roles');
}
`;

const FILES = ['001_users.js', '002_teams.cjs', '003_roles.js'];

describe('knex interop (CLI, MariaDB): plain knex and afty read and lock each other', function () {
  this.timeout(240_000);
  let project: TestProject;
  let admin: Admin;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  const migrations = () => path.join(project.dir, 'migrations/tenant');
  const database = (tenant: string) => `${project.prefix}${tenant.replace(/-/g, '_')}`;
  const knexCli = (args: string[], db: string) =>
    execa('node', [KNEX_CLI, '--knexfile', path.join(project.dir, 'knexfile.cjs'), ...args], {
      cwd: project.dir,
      env: { ...project.env, KNEX_DB: db, KNEX_PATH: path.join(ROOT, 'node_modules/knex/knex.js') },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });
  const recorded = async (db: string) =>
    (
      (await admin.raw('SELECT name FROM ??.knex_migrations ORDER BY id', [db])) as [Array<{ name: string }>]
    )[0].map((row) => row.name);
  const status = async (tenant: string) => {
    const result = await json<StatusJson>(['db', 'status', '-t', tenant]);
    assert.equal(result.exitCode, 0, result.stderr);
    const [row] = result.json.tenants;
    return { applied: row!.applied, pending: row!.pending, missing: row!.missing };
  };
  const create = async (tenant: string, ...flags: string[]) => {
    const created = await cli(['tenant', 'create', tenant, ...flags]);
    assert.equal(created.exitCode, 0, created.stderr);
  };

  before(async () => {
    await requireMariaDb();
    admin = await mariadbAdmin();
    project = createProject({ driver: 'mariadb' });
    await project.createCentral();
    writeFileSync(path.join(project.dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(path.join(project.dir, 'knexfile.cjs'), KNEXFILE);
    writeScripts(migrations(), { '001_users.js': USERS, '002_teams.cjs': TEAMS, '003_roles.js': ROLES });
  });
  after(async () => {
    await project?.cleanup();
    await admin?.destroy();
  });

  it('records each migration under its file name, as plain knex does; knex migrate:list on an afty tenant has nothing pending', async () => {
    await create('by-afty', '--migrate');
    assert.deepEqual(await recorded(database('by-afty')), FILES);
    const listed = await knexCli(['migrate:list'], database('by-afty'));
    assert.equal(listed.exitCode, 0, listed.stderr);
    assert.match(listed.stdout, /Found 3 Completed Migration file/);
    assert.match(listed.stdout, /No Pending Migration files Found/);
    const latest = await knexCli(['migrate:latest'], database('by-afty'));
    assert.equal(latest.exitCode, 0, latest.stderr);
    assert.match(latest.stdout, /Already up to date/);
    // Plain knex rolls back what afty applied, and afty sees it.
    const rolledBack = await knexCli(['migrate:rollback'], database('by-afty'));
    assert.equal(rolledBack.exitCode, 0, rolledBack.stderr);
    assert.match(rolledBack.stdout, /Batch 1 rolled back: 3 migrations/);
    assert.deepEqual(await status('by-afty'), { applied: 0, pending: 3, missing: 0 });
    const again = await json<MigrateJson>(['db', 'migrate', '-t', 'by-afty']);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(
      again.json.tenants[0]!.applied.map((step) => step.name),
      FILES,
    );
  });

  it('a tenant migrated by plain knex is up to date in afty, and afty rolls back what knex applied', async () => {
    await create('by-knex');
    const latest = await knexCli(['migrate:latest'], database('by-knex'));
    assert.equal(latest.exitCode, 0, latest.stderr);
    assert.deepEqual(await recorded(database('by-knex')), FILES);
    assert.deepEqual(await status('by-knex'), { applied: 3, pending: 0, missing: 0 });
    const migrated = await json<MigrateJson>(['db', 'migrate', '-t', 'by-knex']);
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    assert.deepEqual(migrated.json.tenants[0]!.applied, []);
    // Both ways in one database: afty applies a new migration, knex sees it; afty rolls it back.
    writeScripts(migrations(), { '004_notes.js': USERS.replace(/users/g, 'notes') });
    try {
      const applied = await json<MigrateJson>(['db', 'migrate', '-t', 'by-knex']);
      assert.deepEqual(
        applied.json.tenants[0]!.applied.map((step) => step.name),
        ['004_notes.js'],
      );
      const listed = await knexCli(['migrate:list'], database('by-knex'));
      assert.match(listed.stdout, /Found 4 Completed Migration file/);
      const rolledBack = await cli(['db', 'rollback', '-t', 'by-knex', '--force']);
      assert.equal(rolledBack.exitCode, 0, rolledBack.stderr);
      assert.deepEqual(await recorded(database('by-knex')), FILES);
    } finally {
      rmSync(path.join(migrations(), '004_notes.js'));
    }
  });

  it('mixed histories (records with and without extension) are up to date; db migrate renames them so plain knex reads the tenant', async () => {
    await create('mixed', '--migrate');
    const db = database('mixed');
    // 001 and 003 as afty before 0.2 recorded them, 002 as knex does.
    await admin.raw("UPDATE ??.knex_migrations SET name = REPLACE(name, '.js', '') WHERE name LIKE '%.js'", [
      db,
    ]);
    assert.deepEqual(await recorded(db), ['001_users', '002_teams.cjs', '003_roles']);
    assert.deepEqual(await status('mixed'), { applied: 3, pending: 0, missing: 0 });
    const corrupt = await knexCli(['migrate:list'], db);
    assert.match(`${corrupt.stdout}${corrupt.stderr}`, /migration directory is corrupt/);
    const migrated = await json<MigrateJson>(['db', 'migrate', '-t', 'mixed']);
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    assert.deepEqual(migrated.json.tenants[0]!.applied, []);
    assert.deepEqual(await recorded(db), FILES);
    const listed = await knexCli(['migrate:list'], db);
    assert.match(listed.stdout, /No Pending Migration files Found/);
    // Rollback of a legacy record removes it (and runs down()).
    await admin.raw("UPDATE ??.knex_migrations SET name = '003_roles' WHERE name = '003_roles.js'", [db]);
    const rolledBack = await cli(['db', 'rollback', '-t', 'mixed', '--force']);
    assert.equal(rolledBack.exitCode, 0, rolledBack.stderr);
    assert.deepEqual(await recorded(db), []);
    const [tables] = (await admin.raw(
      "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME NOT LIKE 'knex%'",
      [db],
    )) as [Array<{ n: number }>];
    assert.equal(Number(tables[0]!.n), 0);
  });

  it('a .ts migration built to .js stays applied', async () => {
    const dir = path.join(project.dir, 'ts-migrations');
    writeScripts(dir, {
      '001_typed.ts': `import type { Knex } from 'knex';
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('typed', (t) => t.increments('id'));
}
export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('typed');
}
`,
    });
    const db = `${project.prefix}typed`;
    await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [db]);
    const ctx = await project.context();
    try {
      const target = { tenant: 'typed', location: ctx.servers.get('default').tenantLocation(db) };
      // In development (this test runs under tsx): recorded as the .ts file.
      const first = await migrateTenant(target, new TenantMigrationSource(dir));
      assert.deepEqual(
        first.applied.map((step) => step.name),
        ['001_typed.ts'],
      );
      // The build: the same migration as .js, the .ts gone.
      writeFileSync(
        path.join(dir, '001_typed.js'),
        "export async function up() { throw new Error('ran again'); }\nexport async function down() {}\n",
      );
      rmSync(path.join(dir, '001_typed.ts'));
      const built = new TenantMigrationSource(dir);
      const state = await tenantStatus(target, built);
      assert.deepEqual(
        state.migrations.map((entry) => [entry.name, entry.state]),
        [['001_typed.js', 'applied']],
      );
      const again = await migrateTenant(target, built);
      assert.deepEqual(again.applied, []);
      assert.deepEqual(await recorded(db), ['001_typed.js']);
    } finally {
      await ctx.close();
    }
  });

  it('tables and columns get exactly the charset and collation plain knex gives; straße and strasse collide in both', async () => {
    const charsets = async (db: string) => {
      const [tables] = (await admin.raw(
        'SELECT TABLE_NAME AS t, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
        [db],
      )) as [Array<{ t: string; c: string }>];
      const [columns] = (await admin.raw(
        'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, CHARACTER_SET_NAME AS cs, COLLATION_NAME AS co FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION',
        [db],
      )) as [Array<Record<string, string | null>>];
      return { tables, columns };
    };
    await create('knex-side');
    const latest = await knexCli(['migrate:latest'], database('knex-side'));
    assert.equal(latest.exitCode, 0, latest.stderr);
    await create('afty-side', '--migrate');
    const plain = await charsets(database('knex-side'));
    const afty = await charsets(database('afty-side'));
    assert.deepEqual(afty, plain);
    assert.ok(plain.tables.length >= 5);
    for (const table of afty.tables) assert.equal(table.c, 'utf8mb4_unicode_ci', table.t);
    for (const side of ['knex-side', 'afty-side']) {
      const db = database(side);
      await admin.raw("INSERT INTO ??.users (name) VALUES ('straße')", [db]);
      await assert.rejects(
        admin.raw("INSERT INTO ??.users (name) VALUES ('strasse')", [db]),
        /Duplicate entry/,
        side,
      );
    }
  });

  it('the drift check flags a tenant whose table collation differs from its peers', async () => {
    await create('drift-a', '--migrate');
    await create('drift-b', '--migrate');
    await admin.raw('ALTER TABLE ??.roles CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci', [
      database('drift-b'),
    ]);
    const result = await cli(['test', 'database', '-t', 'drift-a', '-t', 'drift-b', '-t', 'by-afty']);
    assert.equal(result.exitCode, 1, result.stdout);
    assert.match(
      result.stdout,
      /drift-b drifted from \S+ .*table roles: collation utf8mb4_general_ci in drift-b, utf8mb4_unicode_ci in/,
    );
    assert.match(
      result.stdout,
      /column name varchar\(30\) character set utf8mb4 collate utf8mb4_general_ci not null only in drift-b/,
    );
  });

  it('the snapshot keeps the rows migrations write, provisions them, and --check compares rows and collations', async () => {
    const written = await cli(['db', 'snapshot']);
    assert.equal(written.exitCode, 0, written.stderr);
    assert.match(written.stdout, /with 2 rows the migrations wrote in 1 table/);
    const file = path.join(migrations(), 'schema.sql');
    const sql = readFileSync(file, 'utf8');
    assert.match(sql, /insert into `roles`/);
    await create('from-snapshot', '--migrate');
    const [rows] = (await admin.raw('SELECT name FROM ??.roles ORDER BY id', [
      database('from-snapshot'),
    ])) as [Array<{ name: string }>];
    assert.deepEqual(
      rows.map((row) => row.name),
      ['owner', 'member'],
    );
    assert.deepEqual(await recorded(database('from-snapshot')), FILES);
    const ok = await cli(['db', 'snapshot', '--check']);
    assert.equal(ok.exitCode, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /matches the migrations/);

    // Rows that differ from what the migrations write are drift.
    writeFileSync(file, sql.replace("'member'", "'guest'"));
    const rowsDrift = await cli(['db', 'snapshot', '--check']);
    assert.equal(rowsDrift.exitCode, 1, rowsDrift.stdout);
    assert.match(
      rowsDrift.stdout,
      /table roles: row \{"id":2,"name":"member","created_at":"\(a time\)"\} missing from the snapshot/,
    );
    assert.match(
      rowsDrift.stdout,
      /table roles: row \{"id":2,"name":"guest","created_at":"\(a time\)"\} only in the snapshot/,
    );

    // So is a collation the migrations do not give.
    writeFileSync(
      file,
      sql.replace(/(CREATE TABLE `roles`[\s\S]*?COLLATE=)utf8mb4_unicode_ci/, '$1utf8mb4_general_ci'),
    );
    const collationDrift = await cli(['db', 'snapshot', '--check']);
    assert.equal(collationDrift.exitCode, 1, collationDrift.stdout);
    assert.match(
      collationDrift.stdout,
      /table roles: collation utf8mb4_general_ci in the snapshot, utf8mb4_unicode_ci in the migrations/,
    );
    writeFileSync(file, sql);
  });

  it('a lock table with two rows is refused by both, and db unlock rewrites it as knex migrate:unlock does', async () => {
    await create('two-rows');
    const db = database('two-rows');
    const listed = await knexCli(['migrate:list'], db);
    assert.equal(listed.exitCode, 0, listed.stderr);
    // What two runs creating knex's tables at once can leave: two free rows.
    await admin.raw('INSERT INTO ??.knex_migrations_lock (is_locked) VALUES (0)', [db]);
    const refused = await json<MigrateJson>(['db', 'migrate', '-t', 'two-rows']);
    assert.equal(refused.exitCode, 1);
    assert.match(
      refused.json.tenants[0]!.error!,
      /knex_migrations_lock has 2 rows; knex's lock needs exactly one — if no run is active, rewrite it with afty db unlock -t two-rows/,
    );
    const knexRefused = await knexCli(['migrate:latest'], db);
    assert.notEqual(knexRefused.exitCode, 0);
    assert.deepEqual(await recorded(db), []);
    const [locks] = (await admin.raw('SELECT is_locked FROM ??.knex_migrations_lock', [db])) as [
      Array<{ is_locked: number }>,
    ];
    assert.deepEqual(
      locks.map((row) => Number(row.is_locked)),
      [0, 0],
      'a refused lock is rolled back',
    );
    const unlocked = await cli(['db', 'unlock', '-t', 'two-rows']);
    assert.equal(unlocked.exitCode, 0, unlocked.stderr);
    const [after] = (await admin.raw('SELECT is_locked FROM ??.knex_migrations_lock', [db])) as [
      Array<{ is_locked: number }>,
    ];
    assert.deepEqual(
      after.map((row) => Number(row.is_locked)),
      [0],
    );
    const migrated = await json<MigrateJson>(['db', 'migrate', '-t', 'two-rows']);
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    assert.deepEqual(await recorded(db), FILES);
  });

  it('while plain knex holds the lock row inside its transaction, afty waits a few seconds, not 50, and says locked', async () => {
    await create('held-row');
    const db = database('held-row');
    assert.equal((await knexCli(['migrate:list'], db)).exitCode, 0);
    // As knex's migrate:latest does before its first DDL: the row taken, not yet committed.
    const knexLike = await admin.transaction();
    try {
      await knexLike.raw('UPDATE ??.knex_migrations_lock SET is_locked = 1 WHERE is_locked = 0', [db]);
      const started = Date.now();
      const locked = await json<MigrateJson>(['db', 'migrate', '-t', 'held-row']);
      const waited = Date.now() - started;
      assert.equal(locked.exitCode, 1);
      assert.equal(locked.json.tenants[0]!.status, 'locked');
      assert.ok(waited >= 4000 && waited < 30_000, `waited ${waited} ms`);
    } finally {
      await knexLike.rollback();
    }
    assert.deepEqual(await recorded(db), []);
    const migrated = await json<MigrateJson>(['db', 'migrate', '-t', 'held-row']);
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    assert.deepEqual(await recorded(db), FILES);
  });

  it('a concurrent plain knex migrate:latest and an afty run never both apply a migration', async () => {
    const dir = path.join(project.dir, 'race');
    // Each migration logs itself; a second application would log twice. Sleeps widen the overlap.
    const logged = (name: string, ddl: boolean) => `export async function up(knex) {
  ${ddl ? "await knex.schema.createTable('log', (t) => { t.increments('id'); t.string('migration', 20); });" : ''}
  await knex('log').insert({ migration: '${name}' });
  await knex.raw('SELECT SLEEP(0.5)');
}
export async function down() {}
`;
    writeScripts(dir, {
      '001_log.js': logged('001', true),
      '002_data.js': logged('002', false),
      '003_more.cjs': logged('003', false)
        .replace('export async function up', 'exports.up = async function')
        .replace('export async function down() {}', 'exports.down = async function () {};'),
      'package.json': '{ "type": "module" }\n',
    });
    const knexfile = path.join(project.dir, 'race-knexfile.cjs');
    writeFileSync(knexfile, KNEXFILE.replace("'./migrations/tenant'", `'${dir}'`));
    /** Waits until plain knex holds the lock (committed with its first DDL). */
    const lockedByKnex = async (db: string) => {
      for (let tries = 0; tries < 200; tries++) {
        const [rows] = (await admin
          .raw('SELECT is_locked FROM ??.knex_migrations_lock', [db])
          .catch(() => [[]])) as [Array<{ is_locked: number }>];
        if (rows.some((row) => Number(row.is_locked) === 1)) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.fail(`plain knex never took the lock of ${db}`);
    };
    const outcomes: string[] = [];
    const ctx = await project.context();
    try {
      const source = new TenantMigrationSource(dir);
      for (let round = 0; round < 6; round++) {
        const db = `${project.prefix}race${round}`;
        await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [db]);
        const target = { tenant: `race${round}`, location: ctx.servers.get('default').tenantLocation(db) };
        if (round % 2 === 1) {
          // Half the rounds on a database where knex's tables already exist.
          const listed = await execa('node', [KNEX_CLI, '--knexfile', knexfile, 'migrate:list'], {
            env: { ...project.env, KNEX_DB: db, KNEX_PATH: path.join(ROOT, 'node_modules/knex/knex.js') },
            extendEnv: false,
            reject: false,
            stdin: 'ignore',
          });
          assert.equal(listed.exitCode, 0, listed.stderr);
        }
        const knexRun = execa('node', [KNEX_CLI, '--knexfile', knexfile, 'migrate:latest'], {
          env: { ...project.env, KNEX_DB: db, KNEX_PATH: path.join(ROOT, 'node_modules/knex/knex.js') },
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
        });
        // afty first (knex, ~1 s to start, meets its lock); knex holding the lock first; and
        // both at about the same moment (on a fresh database: creating knex's tables too).
        if (round % 3 === 1) await lockedByKnex(db);
        if (round % 3 === 2) await new Promise((resolve) => setTimeout(resolve, 700 + round * 40));
        const aftyRun = await migrateTenant(target, source).then(
          (result) => result,
          (error: Error) => error,
        );
        const knexResult = await knexRun;
        outcomes.push(
          `afty ${aftyRun instanceof Error ? 'locked out' : aftyRun.applied.length ? 'applied' : 'found nothing'}, knex ${knexResult.exitCode === 0 ? (/Already up to date/.test(knexResult.stdout) ? 'found nothing' : 'applied') : 'locked out'}`,
        );
        // The loser of a race says the lock is held (or, on a fresh database, that knex's table exists).
        if (aftyRun instanceof Error) assert.match(aftyRun.message, /lock is held|already exists/);
        if (knexResult.exitCode !== 0)
          assert.match(`${knexResult.stdout}${knexResult.stderr}`, /already locked|already exists/);
        // Whatever the interleaving, afty can finish the job and each migration ran exactly once.
        await migrateTenant(target, source);
        const [log] = (await admin.raw('SELECT migration FROM ??.log ORDER BY migration', [db])) as [
          Array<{ migration: string }>,
        ];
        assert.deepEqual(
          log.map((row) => row.migration),
          ['001', '002', '003'],
          `round ${round}: afty ${aftyRun instanceof Error ? aftyRun.message : 'ok'}, knex exit ${knexResult.exitCode}`,
        );
        assert.deepEqual(await recorded(db), ['001_log.js', '002_data.js', '003_more.cjs']);
      }
      // The rounds did race: each side was locked out at least once.
      assert.ok(
        outcomes.some((line) => line.startsWith('afty locked out')),
        outcomes.join('; '),
      );
      assert.ok(
        outcomes.some((line) => line.endsWith('knex locked out')),
        outcomes.join('; '),
      );
    } finally {
      await ctx.close();
    }
  });
});

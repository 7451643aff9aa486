import assert from 'node:assert/strict';
import { execa } from 'execa';
import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MigrateJson } from '../../src/commands/db/migrate.js';
import type { StatusJson } from '../../src/commands/db/status.js';
import { migrateTenant } from '../../src/lib/migrations/migrator.js';
import { TenantMigrationSource } from '../../src/lib/migrations/source.js';
import { createProject, type TestProject } from '../support/project.js';
import { ROOT, runCli, runJson } from '../support/cli.js';
import { postgresAdmin, requirePostgres } from '../support/services.js';
import { createTableMigration, writeScripts } from '../integration/migrations-fixture.js';

const KNEX_CLI = path.join(ROOT, 'node_modules/knex/bin/cli.js');
/** As an application's knexfile: the tenant's own login from DATABASE_URL (afty tenant run), or root. */
const KNEXFILE = `module.exports = {
  client: 'pg',
  connection: process.env.DATABASE_URL || { host: '127.0.0.1', port: 5432, user: 'postgres', database: process.env.KNEX_DB },
  migrations: { directory: process.env.KNEX_MIGRATIONS || './migrations/tenant' },
};
`;
const FILES = ['001_users.js', '002_teams.js'];

describe('knex interop (CLI, PostgreSQL): plain knex and afty read and lock each other', function () {
  this.timeout(120_000);
  let project: TestProject;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  const database = (tenant: string) => `${project.prefix}${tenant.replace(/-/g, '_')}`;
  const knexCli = (args: string[], db: string, migrations?: string) =>
    execa('node', [KNEX_CLI, '--knexfile', path.join(project.dir, 'knexfile.cjs'), ...args], {
      cwd: project.dir,
      env: {
        ...project.env,
        KNEX_DB: db,
        KNEX_MIGRATIONS: migrations ?? '',
        KNEX_PATH: path.join(ROOT, 'node_modules/knex/knex.js'),
      },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });
  /** knex's CLI through `afty tenant run`, so it logs in as the tenant's role, as an application does. */
  const knexAsTenant = async (tenant: string, args: string[]) => {
    const result = await runJson<{ results: Array<{ exitCode: number; output: Array<{ line: string }> }> }>(
      [
        'tenant',
        'run',
        '-t',
        tenant,
        '--',
        'node',
        KNEX_CLI,
        '--knexfile',
        path.join(project.dir, 'knexfile.cjs'),
        ...args,
      ],
      { cwd: project.dir, env: project.env },
    );
    return {
      exitCode: result.exitCode,
      stdout: result.json.results[0]!.output.map((entry) => entry.line).join('\n'),
      stderr: result.stderr,
    };
  };
  const recorded = async (db: string) => {
    const admin = await postgresAdmin(db);
    try {
      const { rows } = (await admin.raw('SELECT name FROM knex_migrations ORDER BY id')) as {
        rows: Array<{ name: string }>;
      };
      return rows.map((row) => row.name);
    } finally {
      await admin.destroy();
    }
  };

  before(async () => {
    await requirePostgres();
    project = createProject({ driver: 'postgres' });
    await project.createCentral();
    writeFileSync(path.join(project.dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(path.join(project.dir, 'knexfile.cjs'), KNEXFILE);
    // The application's own knex, which knex's CLI looks for beside the knexfile.
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(project.dir, 'node_modules'));
    writeScripts(path.join(project.dir, 'migrations/tenant'), {
      '001_users.js': createTableMigration('users'),
      '002_teams.js': createTableMigration('teams', 'users'),
    });
  });
  after(() => project?.cleanup());

  it('knex migrate:list on an afty tenant has nothing pending; afty reads and rolls back what knex applied', async () => {
    assert.equal((await cli(['tenant', 'create', 'by-afty', '--migrate'])).exitCode, 0);
    const listed = await knexAsTenant('by-afty', ['migrate:list']);
    assert.equal(listed.exitCode, 0, listed.stderr);
    assert.match(listed.stdout, /No Pending Migration files Found/);
    assert.deepEqual(await recorded(database('by-afty')), FILES);

    assert.equal((await cli(['tenant', 'create', 'by-knex'])).exitCode, 0);
    const latest = await knexAsTenant('by-knex', ['migrate:latest']);
    assert.equal(latest.exitCode, 0, latest.stderr);
    const status = await json<StatusJson>(['db', 'status', '-t', 'by-knex']);
    assert.deepEqual([status.json.tenants[0]!.applied, status.json.tenants[0]!.pending], [2, 0]);
    const rolled = await cli(['db', 'rollback', '-t', 'by-knex', '--force']);
    assert.equal(rolled.exitCode, 0, rolled.stderr);
    assert.deepEqual(await recorded(database('by-knex')), []);
  });

  it('while plain knex holds the lock row in its transaction (all of its run, DDL included), afty waits a few seconds and says locked', async () => {
    assert.equal((await cli(['tenant', 'create', 'held-row'])).exitCode, 0);
    const db = database('held-row');
    assert.equal((await knexAsTenant('held-row', ['migrate:list'])).exitCode, 0);
    const admin = await postgresAdmin(db);
    const knexLike = await admin.transaction();
    try {
      await knexLike.raw('UPDATE knex_migrations_lock SET is_locked = 1 WHERE is_locked = 0');
      const started = Date.now();
      const locked = await json<MigrateJson>(['db', 'migrate', '-t', 'held-row']);
      const waited = Date.now() - started;
      assert.equal(locked.exitCode, 1, locked.stderr);
      assert.equal(locked.json.tenants[0]!.status, 'locked');
      assert.ok(waited >= 4000 && waited < 30_000, `waited ${waited} ms`);
    } finally {
      await knexLike.rollback();
      await admin.destroy();
    }
    const migrated = await json<MigrateJson>(['db', 'migrate', '-t', 'held-row']);
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    assert.deepEqual(await recorded(db), FILES);
  });

  it('a concurrent plain knex migrate:latest and an afty run never both apply a migration', async () => {
    const dir = path.join(project.dir, 'race');
    const logged = (name: string, ddl: boolean) => `export async function up(knex) {
  ${ddl ? "await knex.schema.createTable('log', (t) => { t.increments('id'); t.string('migration', 20); });" : ''}
  await knex('log').insert({ migration: '${name}' });
  await knex.raw('SELECT pg_sleep(0.3)');
}
export async function down() {}
`;
    writeScripts(dir, {
      '001_log.js': logged('001', true),
      '002_data.js': logged('002', false),
      'package.json': '{ "type": "module" }\n',
    });
    const ctx = await project.context();
    try {
      const source = new TenantMigrationSource(dir);
      const server = ctx.servers.get('default');
      for (let round = 0; round < 3; round++) {
        const db = `${project.prefix}race${round}`;
        await server.createDatabase(db);
        const knexRun = knexCli(['migrate:latest'], db, dir);
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, 400 * round));
        const aftyRun = await migrateTenant(
          { tenant: `race${round}`, location: server.tenantLocation(db) },
          source,
        ).then(
          (result) => result.applied.length,
          (error: Error) => error.message,
        );
        const knexResult = await knexRun;
        const admin = await postgresAdmin(db);
        try {
          const { rows } = (await admin.raw('SELECT migration FROM log ORDER BY id')) as {
            rows: Array<{ migration: string }>;
          };
          assert.deepEqual(
            rows.map((row) => row.migration),
            ['001', '002'],
            `round ${round}: afty ${aftyRun}, knex exit ${knexResult.exitCode} ${knexResult.stderr.slice(-200)}`,
          );
        } finally {
          await admin.destroy();
        }
      }
    } finally {
      await ctx.close();
    }
  });
});

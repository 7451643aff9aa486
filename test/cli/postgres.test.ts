import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MigrateJson } from '../../src/commands/db/migrate.js';
import type { StatusJson } from '../../src/commands/db/status.js';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';
import {
  MARIADB_URL,
  POSTGRES_URL,
  postgresAdmin,
  requireMariaDb,
  requirePostgres,
} from '../support/services.js';
import {
  createTableMigration,
  writeScripts,
  writeStandardFixture,
} from '../integration/migrations-fixture.js';

interface TenantJson {
  id: string;
  database: string;
  server: string;
  dbUser: string | null;
}

/** Databases (or schemas) and roles on the test PostgreSQL whose names start with `prefix`. */
async function postgresFootprint(prefix: string, sharedDatabase?: string) {
  const admin = await postgresAdmin(sharedDatabase);
  const like = `${prefix.replace(/_/g, '\\_')}%`;
  try {
    const containers = sharedDatabase
      ? 'SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE ? ORDER BY 1'
      : 'SELECT datname AS name FROM pg_database WHERE datname LIKE ? ORDER BY 1';
    const [{ rows: databases }, { rows: roles }] = (await Promise.all([
      admin.raw(containers, [like]),
      admin.raw('SELECT rolname AS name FROM pg_roles WHERE rolname LIKE ? ORDER BY 1', [like]),
    ])) as Array<{ rows: Array<{ name: string }> }>;
    return { databases: databases.map((row) => row.name), roles: roles.map((row) => row.name) };
  } finally {
    await admin.destroy();
  }
}

for (const mode of ['database', 'schema'] as const) {
  describe(`afty on PostgreSQL, a ${mode} per tenant (CLI)`, function () {
    this.timeout(120_000);
    let project: TestProject;
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      runCli(args, { cwd: project.dir, env: { ...project.env, ...env } });
    const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
    const shared = () => (mode === 'schema' ? `afty_app_${project.token}` : undefined);

    before(async () => {
      await requirePostgres();
      project = createProject({ driver: mode === 'schema' ? 'postgres-schema' : 'postgres' });
      writeStandardFixture(project.dir);
      if (mode === 'schema') await project.createCentral();
      else {
        // The registry's database comes from afty init, as an operator would create it.
        const init = await cli([
          'init',
          '--yes',
          '--force',
          '--central',
          project.config.central as string,
          '--server',
          POSTGRES_URL,
        ]);
        assert.equal(init.exitCode, 0, init.stderr);
        assert.match(init.stdout + init.stderr, /PostgreSQL 1\d/);
        const file = path.join(project.dir, 'afty.config.json');
        const config = JSON.parse(readFileSync(file, 'utf8')) as { tenancy: { databasePrefix: string } };
        config.tenancy.databasePrefix = project.prefix;
        writeFileSync(file, JSON.stringify(config));
      }
    });
    after(() => project?.cleanup());

    it('tenant create/list/show: a database (or schema) and a role per tenant; bad ids change nothing', async () => {
      for (const id of ['alpha', 'bravo']) {
        const created = await json<TenantJson>(['tenant', 'create', id, '-d', `${id}.${project.token}.test`]);
        assert.equal(created.exitCode, 0, created.stderr);
        assert.equal(created.json.database, `${project.prefix}${id}`);
        assert.equal(created.json.dbUser, `${project.prefix}${id}`);
      }
      const before = await postgresFootprint(project.prefix, shared());
      assert.deepEqual(before, {
        databases: [`${project.prefix}alpha`, `${project.prefix}bravo`],
        roles: [`${project.prefix}alpha`, `${project.prefix}bravo`],
      });
      for (const bad of ['Robert"; DROP DATABASE postgres; --', 'a'.repeat(80), 'x y']) {
        const refused = await cli(['tenant', 'create', bad]);
        assert.equal(refused.exitCode, 2, refused.stderr);
        assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
      }
      assert.deepEqual(await postgresFootprint(project.prefix, shared()), before);
      const listed = await json<{ tenants: TenantJson[] }>(['tenant', 'list']);
      assert.deepEqual(
        listed.json.tenants.map((tenant) => tenant.id),
        ['alpha', 'bravo'],
      );
    });

    it('db migrate/status/rollback/seed/fresh across the fleet, as the tenant roles', async () => {
      const migrated = await json<MigrateJson>(['db', 'migrate', '--all']);
      assert.equal(migrated.exitCode, 0, migrated.stderr);
      assert.deepEqual(
        migrated.json.tenants.map((tenant) => [tenant.tenant, tenant.status, tenant.applied.length]),
        [
          ['alpha', 'ok', 3],
          ['bravo', 'ok', 3],
        ],
      );
      const status = await json<StatusJson>(['db', 'status', '--all', '--check']);
      assert.equal(status.exitCode, 0, status.stderr);
      assert.equal(status.json.totals.upToDate, 2);
      const admin = await postgresAdmin(shared() ?? `${project.prefix}alpha`);
      try {
        const { rows } = (await admin.raw(
          'SELECT tableowner AS owner FROM pg_tables WHERE tablename = ? AND schemaname = ?',
          ['users', mode === 'schema' ? `${project.prefix}alpha` : 'public'],
        )) as { rows: Array<{ owner: string }> };
        assert.deepEqual(rows, [{ owner: `${project.prefix}alpha` }], 'migrations ran as the tenant role');
      } finally {
        await admin.destroy();
      }
      const seeded = await cli(['db', 'seed', '-t', 'alpha', '--class', 'Alpha']);
      assert.equal(seeded.exitCode, 0, seeded.stderr);
      const rolled = await cli(['db', 'rollback', '-t', 'bravo', '--force']);
      assert.equal(rolled.exitCode, 0, rolled.stderr);
      const afterRollback = await json<StatusJson>(['db', 'status', '-t', 'bravo']);
      assert.equal(afterRollback.json.tenants[0]!.pending, 3);
      const fresh = await cli(['db', 'fresh', '-t', 'alpha', '--force']);
      assert.equal(fresh.exitCode, 0, fresh.stderr);
      assert.match(fresh.stdout, /dropped, 3 applied/);
    });

    it('a failing migration rolls its DDL back (transactional DDL): the tenant fails, the other succeeds, a fix converges', async () => {
      writeScripts(path.join(project.dir, 'migrations/tenant'), {
        '004_half.js': `export async function up(knex) {
  await knex.schema.createTable('half', (t) => t.increments('id'));
  if ((await knex.raw('SELECT current_user AS u')).rows[0].u.endsWith('bravo')) await knex.raw('SELECT * FROM no_such_table');
}
export async function down(knex) { await knex.schema.dropTable('half'); }
`,
      });
      const result = await json<MigrateJson>(['db', 'migrate', '--all']);
      assert.equal(result.exitCode, 1);
      const bravo = result.json.tenants.find((tenant) => tenant.tenant === 'bravo')!;
      assert.match(bravo.error!, /migration 004_half.js failed: relation "no_such_table" does not exist/);
      assert.doesNotMatch(bravo.error!, /not rolled back/);
      const admin = await postgresAdmin(shared() ?? `${project.prefix}bravo`);
      try {
        const { rows } = (await admin.raw('SELECT 1 FROM pg_tables WHERE tablename = ? AND schemaname = ?', [
          'half',
          mode === 'schema' ? `${project.prefix}bravo` : 'public',
        ])) as { rows: unknown[] };
        assert.equal(rows.length, 0, 'the half-made table was rolled back with the failed migration');
      } finally {
        await admin.destroy();
      }
      writeScripts(path.join(project.dir, 'migrations/tenant'), {
        '004_half.js': createTableMigration('half'),
      });
      const fixed = await json<MigrateJson>(['db', 'migrate', '--all']);
      assert.equal(fixed.exitCode, 0, fixed.stderr);
    });

    it('db snapshot writes a schema a new tenant loads; --check proves it matches the migrations', async () => {
      const written = await cli(['db', 'snapshot']);
      assert.equal(written.exitCode, 0, written.stderr);
      const sql = readFileSync(path.join(project.dir, 'migrations/tenant/schema.sql'), 'utf8');
      assert.match(sql.split('\n')[0]!, /"driver":"postgres"/);
      assert.doesNotMatch(sql, /^\\|search_path|OWNER TO/m);
      const check = await cli(['db', 'snapshot', '--check']);
      assert.equal(check.exitCode, 0, check.stdout + check.stderr);
      const created = await cli(['tenant', 'create', 'charlie', '--migrate']);
      assert.equal(created.exitCode, 0, created.stderr);
      assert.match(created.stderr + created.stdout, /snapshot \(\d+ migrations\) \+ 0 migrations run/);
      // psql with Laravel's DB_* variables, as the tenant role (its own default search_path in schema mode).
      const insert = await cli([
        'tenant',
        'run',
        '-t',
        'charlie',
        '--',
        'sh',
        '-c',
        'PGPASSWORD="$DB_PASSWORD" psql -X -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USERNAME" -d "$DB_DATABASE" -tA -c "INSERT INTO users (name) VALUES (\'n\') RETURNING id, current_user" && echo "$DB_CONNECTION"',
      ]);
      assert.equal(insert.exitCode, 0, insert.stderr);
      assert.match(insert.stdout, new RegExp(`^\\[charlie\\] 1\\|${project.prefix}charlie$`, 'm'));
      assert.match(insert.stdout, /^\[charlie\] pgsql$/m);
    });

    it('tenant delete removes the database (or schema) and the role', async () => {
      for (const id of ['alpha', 'bravo', 'charlie']) {
        const deleted = await cli(['tenant', 'delete', id, '--force', '--no-backup']);
        assert.equal(deleted.exitCode, 0, deleted.stderr);
      }
      assert.deepEqual(await postgresFootprint(project.prefix, shared()), { databases: [], roles: [] });
    });
  });
}

describe('afty with a fleet of mixed engines (CLI)', function () {
  this.timeout(120_000);
  let project: TestProject;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });

  before(async () => {
    await Promise.all([requirePostgres(), requireMariaDb()]);
    project = createProject({
      driver: 'postgres',
      config: { servers: { pg: POSTGRES_URL, maria: MARIADB_URL, embedded: 'sqlite:.afty/tenants' } },
    });
    writeStandardFixture(project.dir);
    await project.createCentral();
  });
  after(() => project?.cleanup());

  it('one registry, tenants on PostgreSQL, MariaDB and SQLite: migrate --all and tenant run reach each', async () => {
    for (const [id, server] of [
      ['pgco', 'pg'],
      ['mariaco', 'maria'],
      ['liteco', 'embedded'],
    ]) {
      const created = await cli(['tenant', 'create', id!, '--server', server!]);
      assert.equal(created.exitCode, 0, created.stderr);
    }
    const migrated = await runJson<MigrateJson>(['db', 'migrate', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    assert.ok(migrated.json.tenants.every((tenant) => tenant.status === 'ok' && tenant.applied.length === 3));
    const run = await runJson<{ results: Array<{ tenant: string; output: Array<{ line: string }> }> }>(
      ['tenant', 'run', '--all', '--', 'sh', '-c', 'echo "$DB_CONNECTION"'],
      { cwd: project.dir, env: project.env },
    );
    assert.equal(run.exitCode, 0, run.stderr);
    assert.deepEqual(
      Object.fromEntries(run.json.results.map((row) => [row.tenant, row.output.map((entry) => entry.line)])),
      { liteco: ['sqlite'], mariaco: ['mysql'], pgco: ['pgsql'] },
    );
    for (const id of ['pgco', 'mariaco', 'liteco']) {
      const deleted = await cli(['tenant', 'delete', id, '--force', '--no-backup']);
      assert.equal(deleted.exitCode, 0, deleted.stderr);
    }
  });
});

describe('afty on PostgreSQL: login and reachability errors (CLI)', function () {
  this.timeout(60_000);
  let project: TestProject;
  before(async () => {
    await requirePostgres();
    project = createProject({ driver: 'sqlite' });
  });
  after(() => project?.cleanup());

  it('an unreachable server is exit 3 naming it; a role that does not exist is exit 2 naming where the login came from', async () => {
    const unreachable = await runCli(['tenant', 'create', 'xx', '--server', 'default'], {
      cwd: project.dir,
      env: { ...project.env, AFTY_SERVER_URL: 'postgres://postgres@127.0.0.1:1' },
    });
    assert.equal(unreachable.exitCode, 3, unreachable.stderr);
    assert.match(
      unreachable.stderr,
      /cannot reach database server "default" \(postgres:\/\/postgres@127\.0\.0\.1:1\)/,
    );
    const refused = await runCli(['tenant', 'create', 'xx'], {
      cwd: project.dir,
      env: { ...project.env, AFTY_SERVER_URL: 'postgres://no_such_role:pw@127.0.0.1:5432' },
    });
    assert.equal(refused.exitCode, 2, refused.stderr);
    assert.match(refused.stderr, /refused the login/);
    assert.match(refused.stderr, /AFTY_SERVER_URL/);
    assert.doesNotMatch(refused.stderr, /\bpw\b/);
    const listed = await runJson<unknown[]>(['tenant', 'list'], { cwd: project.dir, env: project.env });
    assert.deepEqual(listed.json, { total: 0, tenants: [] });
  });

  it('works with a server account that is not a superuser (CREATEDB, CREATEROLE)', async () => {
    const account = `adm_${project.token}`;
    const admin = await postgresAdmin();
    await admin.raw(`CREATE ROLE ${account} LOGIN CREATEDB CREATEROLE PASSWORD 'adm-pw'`);
    try {
      const env = { ...project.env, AFTY_SERVER_URL: `postgres://${account}:adm-pw@127.0.0.1:5432` };
      const created = await runCli(['tenant', 'create', 'byadmin', '--migrate'], { cwd: project.dir, env });
      assert.equal(created.exitCode, 0, created.stderr);
      const { rows } = (await admin.raw(
        'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ?',
        [`${project.prefix}byadmin`],
      )) as { rows: Array<{ owner: string }> };
      assert.deepEqual(rows, [{ owner: `${project.prefix}byadmin` }]);
      const deleted = await runCli(['tenant', 'delete', 'byadmin', '--force', '--no-backup'], {
        cwd: project.dir,
        env,
      });
      assert.equal(deleted.exitCode, 0, deleted.stderr);
    } finally {
      await admin.raw(`DROP DATABASE IF EXISTS "${project.prefix}byadmin" WITH (FORCE)`);
      await admin.raw(`DROP ROLE IF EXISTS "${project.prefix}byadmin"`);
      await admin.raw(`DROP ROLE IF EXISTS ${account}`);
      await admin.destroy();
    }
  });
});

import assert from 'node:assert/strict';
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeScripts } from '../integration/migrations-fixture.js';
import { runCli, runJson, runUntilPaused } from '../support/cli.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-servers.js';
import { createPrivateServerProject, createProject, type TestProject } from '../support/project.js';
import { REDIS_URL, requireRedis } from '../support/services.js';

/** Pauses the running migration or seeder at `step` the way src/lib/step-marker.ts does. */
const pauseHere = (step: string) => `if (process.env.AFTY_TEST_PAUSE_AT === '${step}') {
    process.stderr.write('afty: paused at ${step}\\n');
    await new Promise(() => setInterval(() => {}, 1 << 30));
  }`;

/** Migrations and a seeder that can stop half-way: a migration after its first table, the seeder after its first row. */
function writeFixture(dir: string): void {
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  writeScripts(path.join(dir, 'migrations/tenant'), {
    '001_users.js': `export async function up(knex) {
  await knex.schema.createTable('users', (t) => { t.increments('id'); t.string('name', 50); });
}
export async function down(knex) { await knex.schema.dropTable('users'); }
`,
    '002_projects.js': `export async function up(knex) {
  await knex.schema.createTable('projects', (t) => { t.increments('id'); });
  ${pauseHere('inside migration')}
  await knex.schema.createTable('tasks', (t) => { t.increments('id'); });
}
export async function down(knex) { await knex.schema.dropTable('tasks'); await knex.schema.dropTable('projects'); }
`,
  });
  writeScripts(path.join(dir, 'seeds/tenant'), {
    'DatabaseSeeder.js': `export async function seed(knex) {
  await knex('users').insert({ name: 'first' });
  ${pauseHere('inside seeder')}
  await knex('users').insert({ name: 'second' });
}
`,
  });
}

/** Where a kill leaves the tenant, and how the kill test recovers it. */
const KILL_POINTS: Array<{ step: string; recover: 'retry' | 'diagnose --fix' | 'delete' }> = [
  { step: 'registry', recover: 'retry' },
  { step: 'database', recover: 'diagnose --fix' },
  { step: 'user', recover: 'retry' },
  { step: 'inside migration', recover: 'diagnose --fix' },
  { step: 'migrate', recover: 'retry' },
  { step: 'inside seeder', recover: 'retry' },
  { step: 'seed', recover: 'diagnose --fix' },
  { step: 'inside migration', recover: 'delete' },
  { step: 'user', recover: 'delete' },
];

/**
 * kill -9 during `tenant create --migrate --seed` left a database and user without a registry
 * row, or a registered tenant with no tables or no seed, and the same create then never
 * succeeded. The row now comes first, as `provisioning`, which nothing serves; a retry of the
 * same create or `afty diagnose --fix` completes it (or undoes it), at whichever step it died.
 */
describe('tenant create is recoverable after kill -9 at any step (CLI, private mariadbd)', function () {
  this.timeout(600_000);
  let server: PrivateMariaDb;
  let project: TestProject;
  const CREATE = [
    'tenant',
    'create',
    'acme',
    '--name',
    "Acme's Inc",
    '--domain',
    'acme.test',
    '--migrate',
    '--seed',
  ];
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const sql = async (statement: string) => (await server.sql(statement)).trim();

  /** Everything a half-created tenant can leave behind. */
  async function leftovers(id: string) {
    const database = `${project.prefix}${id}`;
    return {
      row: await sql(`SELECT CONCAT(status, ' ', name) FROM afty.afty_tenants WHERE id = '${id}'`),
      domains: await sql(`SELECT domain FROM afty.afty_domains WHERE tenant_id = '${id}'`),
      database: await sql(
        `SELECT schema_name FROM information_schema.schemata WHERE schema_name = '${database}'`,
      ),
      tables: await sql(
        `SELECT COALESCE(GROUP_CONCAT(table_name ORDER BY table_name), '') FROM information_schema.tables WHERE table_schema = '${database}'`,
      ),
      user: await sql(`SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User = '${database}'`),
    };
  }

  before(async () => {
    await requireRedis();
    server = await startPrivateMariaDb();
    project = await createPrivateServerProject(server);
    writeFixture(project.dir);
    const first = await cli(['tenant', 'create', 'first']);
    assert.equal(first.exitCode, 0, first.stderr);
  });
  after(async () => {
    await server?.stop();
    await project?.cleanup();
  });

  for (const [index, { step, recover }] of KILL_POINTS.entries()) {
    it(`killed at "${step}" (${index + 1}/${KILL_POINTS.length}): exactly a provisioning tenant is left, and ${recover} resolves it`, async () => {
      const paused = await runUntilPaused(CREATE, step, { cwd: project.dir, env: project.env });
      paused.child.kill('SIGKILL');
      await paused.ended;

      const left = await leftovers('acme');
      const done = ['registry', 'database', 'user', 'inside migration', 'migrate', 'inside seeder', 'seed'];
      const reached = (name: string) => done.indexOf(step) >= done.indexOf(name);
      assert.equal(left.row, "provisioning Acme's Inc");
      assert.equal(left.domains, 'acme.test');
      assert.equal(left.database, reached('database') ? `${project.prefix}acme` : '');
      assert.equal(left.user, reached('user') ? `${project.prefix}acme@%` : '');
      if (step === 'inside migration')
        assert.equal(left.tables, 'knex_migrations,knex_migrations_lock,projects,users');

      // Never served as active while half-created.
      const listed = await runJson<{ tenants: Array<{ id: string }> }>(['tenant', 'list'], {
        cwd: project.dir,
        env: project.env,
      });
      assert.deepEqual(
        listed.json.tenants.map((tenant) => tenant.id),
        ['first'],
      );
      const diagnosed = await runJson<{
        results: Array<{ id: string; status: string; message: string; remedy: string }>;
      }>(['diagnose'], { cwd: project.dir, env: project.env });
      const finding = diagnosed.json.results.find((result) => result.id === 'tenants.provisioning')!;
      assert.equal(finding.status, 'fail');
      assert.match(finding.message, /acme/);
      assert.ok(
        finding.remedy.includes(
          `afty tenant create acme --name "Acme's Inc" --domain acme.test --server default --migrate --seed`,
        ),
        finding.remedy,
      );
      assert.ok(finding.remedy.includes('afty tenant delete acme --force'), finding.remedy);

      if (recover === 'delete') {
        const deleted = await cli(['tenant', 'delete', 'acme', '--force']);
        assert.equal(deleted.exitCode, 0, deleted.stderr);
        assert.deepEqual(await leftovers('acme'), {
          row: '',
          domains: '',
          database: '',
          tables: '',
          user: '',
        });
        return;
      }
      const resolved = recover === 'retry' ? await cli(CREATE) : await cli(['diagnose', '--fix']);
      assert.equal(resolved.exitCode === 0 || recover !== 'retry', true, resolved.stderr);
      const after = await leftovers('acme');
      assert.equal(after.row, "active Acme's Inc");
      assert.equal(after.tables, 'knex_migrations,knex_migrations_lock,projects,tasks,users');
      assert.equal(after.user, `${project.prefix}acme@%`);
      // Seeded exactly once, whatever the earlier attempt had written.
      assert.equal(
        await sql(`SELECT GROUP_CONCAT(name ORDER BY id) FROM ${project.prefix}acme.users`),
        'first,second',
      );
      const connects = await cli(['test', 'connections', '--tenant', 'acme']);
      assert.equal(connects.exitCode, 0, connects.stdout);
      const removed = await cli(['tenant', 'delete', 'acme', '--force', '--no-backup']);
      assert.equal(removed.exitCode, 0, removed.stderr);
    });
  }

  it('a retry with other options is refused with the command that finishes it', async () => {
    const paused = await runUntilPaused(CREATE, 'user', { cwd: project.dir, env: project.env });
    paused.child.kill('SIGKILL');
    await paused.ended;
    const other = await cli(['tenant', 'create', 'acme', '--migrate']);
    assert.equal(other.exitCode, 2, other.stderr);
    assert.match(other.stderr, /^Error: tenant acme is half-created/);
    assert.match(
      other.stderr,
      /afty tenant create acme --name "Acme's Inc" --domain acme\.test --server default --migrate --seed/,
    );
    assert.equal((await leftovers('acme')).row, "provisioning Acme's Inc");
    assert.equal((await cli(CREATE)).exitCode, 0);
    assert.equal((await cli(['tenant', 'delete', 'acme', '--force', '--no-backup'])).exitCode, 0);
  });

  it('a provisioning tenant is not served: no list, no fleet run, no backup, no cache domain, no status change', async () => {
    const paused = await runUntilPaused(CREATE, 'migrate', { cwd: project.dir, env: project.env });
    paused.child.kill('SIGKILL');
    await paused.ended;
    const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });

    const provisioning = await json<{ tenants: Array<{ id: string; status: string }> }>([
      'tenant',
      'list',
      '--status',
      'provisioning',
    ]);
    assert.deepEqual(
      provisioning.json.tenants.map((tenant) => [tenant.id, tenant.status]),
      [['acme', 'provisioning']],
    );
    const migrated = await json<{ tenants: Array<{ tenant: string }> }>(['db', 'migrate', '--all']);
    assert.deepEqual(
      migrated.json.tenants.map((row) => row.tenant),
      ['first'],
    );
    const backedUp = await json<{ results: Array<{ tenant: string }> }>(['backup', 'create', '--all']);
    assert.deepEqual(
      backedUp.json.results.map((row) => row.tenant),
      ['first'],
    );
    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_URL);
    const prefix = `afty-test-${project.token}:`;
    try {
      const warmed = await runCli(['cache', 'warm'], {
        cwd: project.dir,
        env: { ...project.env, AFTY_REDIS_URL: REDIS_URL },
      });
      assert.equal(warmed.exitCode, 0, warmed.stderr);
      assert.equal(await redis.hget(`${prefix}central:{domains}`, 'acme.test'), null);
      assert.equal(await redis.exists(`${prefix}central:tenant:{acme}`), 0);
      assert.equal(await redis.exists(`${prefix}central:tenant:{first}`), 1);
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.unlink(...keys);
      redis.disconnect();
    }
    for (const args of [
      ['db', 'migrate', '--tenant', 'acme'],
      ['tenant', 'activate', 'acme'],
      ['tenant', 'run', '--tenant', 'acme', '--', 'true'],
    ]) {
      const refused = await cli(args);
      assert.equal(refused.exitCode, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, /tenant acme is half-created/);
    }
    assert.equal((await leftovers('acme')).row, "provisioning Acme's Inc");
    assert.equal((await cli(['tenant', 'delete', 'acme', '--force'])).exitCode, 0);
  });
});

describe('tenant create --migrate retried after a kill on SQLite (CLI)', function () {
  this.timeout(120_000);
  let project: TestProject;

  before(() => {
    project = createProject({ driver: 'sqlite' });
    writeFixture(project.dir);
  });
  after(() => project.cleanup());

  for (const step of ['registry', 'database', 'inside migration', 'inside seeder']) {
    it(`killed at "${step}", the same create completes it`, async () => {
      const args = ['tenant', 'create', 'lite', '--migrate', '--seed'];
      const paused = await runUntilPaused(args, step, { cwd: project.dir, env: project.env });
      paused.child.kill('SIGKILL');
      await paused.ended;
      const retried = await runJson<{ status: string }>(args, { cwd: project.dir, env: project.env });
      assert.equal(retried.exitCode, 0, retried.stderr);
      assert.equal(retried.json.status, 'active');
      const rows = await execa('node', [
        '-e',
        `const D=require('better-sqlite3');const d=new D(process.argv[1]);console.log(d.prepare('select group_concat(name) n from users').get().n)`,
        path.join(project.dir, '.afty/tenants', `${project.prefix}lite.sqlite`),
      ]);
      assert.equal(rows.stdout.trim(), 'first,second');
      assert.equal(
        (
          await runCli(['tenant', 'delete', 'lite', '--force', '--no-backup'], {
            cwd: project.dir,
            env: project.env,
          })
        ).exitCode,
        0,
      );
    });
  }
});

describe('diagnose names stale tenant users and orphan databases with the command that resolves each (CLI, private mariadbd)', function () {
  this.timeout(120_000);
  let server: PrivateMariaDb;
  let project: TestProject;

  before(async () => {
    server = await startPrivateMariaDb();
    project = await createPrivateServerProject(server);
    assert.equal(
      (await runCli(['tenant', 'create', 'kept'], { cwd: project.dir, env: project.env })).exitCode,
      0,
    );
    await server.sql(
      `CREATE DATABASE ${project.prefix}orphan; CREATE USER '${project.prefix}stale'@'%' IDENTIFIED BY 'x'`,
    );
  });
  after(async () => {
    await server?.stop();
    await project?.cleanup();
  });

  it('each remedy, run as printed, resolves its finding', async () => {
    const report = async () =>
      (
        await runJson<{
          results: Array<{ id: string; status: string; message: string; remedy: string | null }>;
        }>(['diagnose'], { cwd: project.dir, env: project.env })
      ).json.results;
    const before = await report();
    const orphans = before.find((result) => result.id === 'database.orphans')!;
    const stale = before.find((result) => result.id === 'servers.stale-users')!;
    assert.equal(orphans.status, 'warn');
    assert.match(orphans.message, new RegExp(`${project.prefix}orphan`));
    assert.equal(stale.status, 'warn');
    assert.match(stale.message, new RegExp(`${project.prefix}stale`));
    assert.doesNotMatch(stale.message, new RegExp(`${project.prefix}kept`));
    const client = `mariadb -h 127.0.0.1 -P ${server.port} -u root`;
    for (const [finding, command] of [
      [orphans, `${client} -e 'DROP DATABASE \`${project.prefix}orphan\`'`],
      [stale, `${client} -e "DROP USER '${project.prefix}stale'@'%'"`],
    ] as const) {
      assert.ok(finding.remedy!.includes(command), `${finding.remedy} lacks ${command}`);
      await execa('sh', ['-c', command]);
    }
    const after = await report();
    assert.equal(after.find((result) => result.id === 'database.orphans')!.status, 'pass');
    assert.equal(after.find((result) => result.id === 'servers.stale-users')!.status, 'pass');
  });
});

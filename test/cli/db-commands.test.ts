import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MigrateJson } from '../../src/commands/db/migrate.js';
import type { SeedJson } from '../../src/commands/db/seed.js';
import type { StatusJson } from '../../src/commands/db/status.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';
import { mariadbAdmin, requireMariaDb } from '../support/services.js';
import {
  createTableMigration,
  writeScripts,
  writeStandardFixture,
} from '../integration/migrations-fixture.js';

describe('afty db (CLI, SQLite)', function () {
  this.timeout(90_000);
  let project: TestProject;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  const migrations = () => path.join(project.dir, 'migrations/tenant');

  /** Rows of a tenant's SQLite database (tenants live in .afty/tenants by default). */
  async function rows<T>(tenant: string, sql: string): Promise<T[]> {
    const ctx = await project.context();
    try {
      const registry = await ctx.registry();
      const record = (await registry.findTenant(tenant))!;
      const db = await createKnex(ctx.servers.get(record.server).tenantLocation(record.database));
      try {
        return (await db.raw(sql)) as T[];
      } finally {
        await db.destroy();
      }
    } finally {
      await ctx.close();
    }
  }
  const recorded = async (tenant: string) =>
    (await rows<{ name: string }>(tenant, 'SELECT name FROM knex_migrations ORDER BY id')).map(
      (row) => row.name,
    );

  before(async () => {
    project = createProject({ driver: 'sqlite' });
    writeStandardFixture(project.dir);
    for (const id of ['alpha', 'bravo', 'charlie']) {
      const created = await cli(['tenant', 'create', id]);
      assert.equal(created.exitCode, 0, created.stderr);
    }
  });
  after(() => project.cleanup());

  it('--dry-run lists what would run and changes nothing', async () => {
    const result = await json<MigrateJson>(['db', 'migrate', '--all', '--dry-run']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.json.dryRun, true);
    for (const tenant of result.json.tenants) {
      assert.deepEqual(tenant.pending, ['001_users.js', '002_teams.cjs', '003_posts.mjs']);
      assert.deepEqual(tenant.applied, []);
    }
    const status = await json<StatusJson>(['db', 'status', '--all']);
    assert.equal(status.json.totals.pending, 9);
  });

  it('migrate --all: per-tenant JSON {tenant, status, applied [{name, ms}], error}, progress on stderr only', async () => {
    const result = await json<MigrateJson>(['db', 'migrate', '--all', '--concurrency', '2']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(
      result.json.tenants.map((tenant) => [tenant.tenant, tenant.status, tenant.error]),
      [
        ['alpha', 'ok', null],
        ['bravo', 'ok', null],
        ['charlie', 'ok', null],
      ],
    );
    for (const tenant of result.json.tenants) {
      assert.deepEqual(
        tenant.applied.map((step) => step.name),
        ['001_users.js', '002_teams.cjs', '003_posts.mjs'],
      );
      assert.ok(
        tenant.applied.every((step) => Number.isInteger(step.ms) && step.ms >= 0),
        'tenant.applied.every((step) => Number.isInteger(step.ms) && step.ms >= 0)',
      );
    }
    assert.deepEqual(result.json.totals, {
      tenants: 3,
      total: 3,
      ok: 3,
      failed: 0,
      skipped: 0,
      locked: 0,
      timeout: 0,
      interrupted: 0,
    });
    assert.equal(result.json.interrupted, null);

    const pretty = await cli(['db', 'migrate', '--all']);
    assert.equal(pretty.exitCode, 0);
    // Nothing to do: no table rows, only the count.
    assert.doesNotMatch(pretty.stdout, /^tenant /m);
    assert.match(pretty.stdout, /^3 tenants: 3 ok \(3 up to date\) in \d+(ms|\.\ds)$/m);
  });

  it('status: one tenant in detail; the fleet one line each plus totals; --check exits 1 when behind', async () => {
    const one = await cli(['db', 'status', '-t', 'alpha']);
    assert.equal(one.exitCode, 0, one.stderr);
    assert.match(one.stdout, /001_users.*applied.*1/);
    writeScripts(migrations(), { '004_tags.js': createTableMigration('tags') });
    const fleet = await cli(['db', 'status', '--all']);
    assert.match(fleet.stdout, /^alpha\s+3 applied, 1 pending, last batch 1, last migrated \d{4}-/m);
    assert.match(fleet.stdout, /3 tenants: 0 up to date, 3 behind \(3 pending, 0 missing\)/);
    assert.equal(fleet.exitCode, 0);
    const gate = await json<StatusJson>(['db', 'status', '--all', '--check']);
    assert.equal(gate.exitCode, 1);
    assert.equal(gate.json.totals.behind, 3);
    const migrated = await cli(['db', 'migrate', '--all', '--verbose']);
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    // Non-TTY progress: a first line, then a line per finished tenant (and, with --verbose, per
    // migration), each naming its tenant.
    assert.match(migrated.stderr, /^migrate: 3 tenants, \d+ at a time$/m);
    for (const id of ['alpha', 'bravo', 'charlie']) {
      assert.match(migrated.stderr, new RegExp(`^  ${id}: 004_tags.js \\(\\d+ms\\)$`, 'm'));
      assert.match(migrated.stderr, new RegExp(`^✓ ${id}: 1 applied \\(\\d+ms\\)$`, 'm'));
      assert.match(migrated.stdout, new RegExp(`^${id} +ok +\\d+ms +1 applied$`, 'm'));
    }
    const quiet = await cli(['db', 'migrate', '--all']);
    assert.doesNotMatch(quiet.stderr, /004_tags.js/, 'without --verbose: one line per tenant, none per step');
    assert.match(quiet.stderr, /^✓ alpha: up to date \(\d+ms\)$/m);
    assert.equal((await cli(['db', 'status', '--all', '--check'])).exitCode, 0);
  });

  it('one broken tenant fails (exit 1, summary names tenant and migration) while the others succeed', async () => {
    await rows('bravo', 'CREATE TABLE audit (id INTEGER)');
    writeScripts(migrations(), {
      '005_audit.js': createTableMigration('audit'),
      '006_after.js': createTableMigration('after_audit'),
    });
    const result = await json<MigrateJson>(['db', 'migrate', '--all']);
    assert.equal(result.exitCode, 1);
    const bravo = result.json.tenants.find((tenant) => tenant.tenant === 'bravo')!;
    assert.equal(bravo.status, 'failed');
    assert.match(bravo.error!, /migration 005_audit.js failed: .*already exists/);
    for (const id of ['alpha', 'charlie']) {
      const tenant = result.json.tenants.find((entry) => entry.tenant === id)!;
      assert.deepEqual(
        tenant.applied.map((step) => step.name),
        ['005_audit.js', '006_after.js'],
      );
    }
    await rows('bravo', 'DROP TABLE audit');
    await rows('bravo', 'CREATE TABLE audit (id INTEGER)');
    const pretty = await cli(['db', 'migrate', '-t', 'bravo']);
    assert.equal(pretty.exitCode, 1);
    assert.match(pretty.stdout, /bravo.*failed.*migration 005_audit.js failed/);
    assert.match(pretty.stdout, /1 tenant: 0 ok, 1 failed/);
    // The tenant's line names the failing migration and its error; the one after it never starts.
    assert.match(pretty.stderr, /^✖ bravo: 005_audit.js: migration 005_audit.js failed: .*already exists/m);
    assert.doesNotMatch(pretty.stderr, /006_after.js/);
    await rows('bravo', 'DROP TABLE audit');
    assert.equal((await cli(['db', 'migrate', '-t', 'bravo'])).exitCode, 0);
  });

  it('a held lock is reported as locked at once (exit 1); db unlock frees it', async () => {
    await rows('charlie', 'UPDATE knex_migrations_lock SET is_locked = 1');
    writeScripts(migrations(), { '007_more.js': createTableMigration('more') });
    const started = Date.now();
    const result = await json<MigrateJson>(['db', 'migrate', '-t', 'charlie']);
    assert.ok(Date.now() - started < 15_000, 'Date.now() - started < 15_000');
    assert.equal(result.exitCode, 1);
    assert.equal(result.json.tenants[0]!.status, 'locked');
    assert.match(result.json.tenants[0]!.error!, /migration lock is held .*afty db unlock -t charlie/);
    const unlocked = await json<{ tenants: Array<{ wasLocked: boolean }> }>([
      'db',
      'unlock',
      '-t',
      'charlie',
    ]);
    assert.equal(unlocked.exitCode, 0);
    assert.equal(unlocked.json.tenants[0]!.wasLocked, true);
    const again = await json<MigrateJson>(['db', 'migrate', '--all']);
    assert.equal(again.exitCode, 0, again.stderr);
  });

  it('rollback --step and the last batch', async () => {
    const result = await json<{ tenants: Array<{ rolledBack: Array<{ name: string }> }> }>([
      'db',
      'rollback',
      '-t',
      'alpha',
      '--step',
      '2',
      '--force',
    ]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(
      result.json.tenants[0]!.rolledBack.map((step) => step.name),
      ['007_more.js', '006_after.js'],
    );
    assert.equal((await cli(['db', 'migrate', '-t', 'alpha'])).exitCode, 0);
    assert.equal((await cli(['db', 'rollback', '-t', 'alpha', '--step', '0', '--force'])).exitCode, 2);
  });

  it('seed: never a picker without a TTY (default seeder); --class keeps order; unknown is exit 2 and runs nothing', async () => {
    const byDefault = await json<SeedJson>(['db', 'seed', '-t', 'alpha']);
    assert.equal(byDefault.exitCode, 0, byDefault.stderr);
    assert.deepEqual(byDefault.json.seeders, ['DatabaseSeeder']);
    assert.doesNotMatch(byDefault.stderr, /Which seeders/);
    // Not a terminal even without CI set: still no picker, still the default seeder.
    const env = { ...project.env };
    delete env.CI;
    const noCi = await runCli(['db', 'seed', '-t', 'alpha', '--json'], { cwd: project.dir, env });
    assert.equal(noCi.exitCode, 0, noCi.stderr);
    assert.deepEqual((JSON.parse(noCi.stdout) as SeedJson).seeders, ['DatabaseSeeder']);

    const ordered = await json<SeedJson>(['db', 'seed', '-t', 'alpha', '--class', 'Beta,Alpha']);
    assert.equal(ordered.exitCode, 0, ordered.stderr);
    assert.deepEqual(
      ordered.json.tenants[0]!.seeded.map((run) => run.name),
      ['Beta', 'Alpha'],
    );
    assert.ok(
      ordered.json.tenants[0]!.seeded.every((run) => run.memoryBytes >= 0 && run.ms >= 0),
      'ordered.json.tenants[0]!.seeded.every((run) => run.memoryBytes >= 0 && run.ms >= 0)',
    );
    const log = async () =>
      (await rows<{ seeder: string }>('alpha', 'SELECT seeder FROM seed_log ORDER BY id')).map(
        (row) => row.seeder,
      );
    assert.deepEqual(await log(), ['DatabaseSeeder', 'DatabaseSeeder', 'Beta', 'Alpha']);

    const unknown = await cli(['db', 'seed', '--all', '--class', 'Alpha,Nope']);
    assert.equal(unknown.exitCode, 2);
    assert.match(unknown.stderr, /unknown seeder "Nope" — available: DatabaseSeeder, Alpha, Beta/);
    assert.deepEqual(await log(), ['DatabaseSeeder', 'DatabaseSeeder', 'Beta', 'Alpha'], 'nothing ran');
  });

  it('fresh refuses without --force when not interactive (nothing dropped); with --force drops, migrates and seeds', async () => {
    const before = await recorded('bravo');
    const refused = await cli(['db', 'fresh', '-t', 'bravo', '--seed']);
    assert.equal(refused.exitCode, 2);
    assert.match(
      refused.stderr,
      /refusing to drop every table and view of tenant bravo without confirmation — pass --force/,
    );
    assert.deepEqual(await recorded('bravo'), before);

    const fresh = await json<{
      tenants: Array<{ dropped: number; applied: unknown[]; seeded: Array<{ name: string }> }>;
    }>(['db', 'fresh', '-t', 'bravo', '--seed', '--class', 'Alpha', '--force']);
    assert.equal(fresh.exitCode, 0, fresh.stderr);
    assert.ok(
      fresh.json.tenants[0]!.dropped >= before.length,
      'fresh.json.tenants[0]!.dropped >= before.length',
    );
    assert.equal(fresh.json.tenants[0]!.applied.length, before.length);
    assert.deepEqual(
      fresh.json.tenants[0]!.seeded.map((run) => run.name),
      ['Alpha'],
    );
  });

  it('snapshot, --check, and tenant create --migrate --seed from it; drift exits 1', async () => {
    const written = await json<{ file: string; migrations: number; ok: boolean }>(['db', 'snapshot']);
    assert.equal(written.exitCode, 0, written.stderr);
    assert.equal(written.json.migrations, 7);
    const check = await json<{ ok: boolean; differences: string[] }>(['db', 'snapshot', '--check']);
    assert.equal(check.exitCode, 0, check.stderr);
    assert.deepEqual(check.json.differences, []);

    const created = await cli(['tenant', 'create', 'delta', '--migrate', '--seed', '--class', 'Beta,Alpha']);
    assert.equal(created.exitCode, 0, created.stderr);
    assert.match(created.stderr, /schema: snapshot \(7 migrations\) \+ 0 migrations run/);
    assert.deepEqual(
      (await rows<{ seeder: string }>('delta', 'SELECT seeder FROM seed_log ORDER BY id')).map(
        (row) => row.seeder,
      ),
      ['Beta', 'Alpha'],
    );
    const status = await json<StatusJson>(['db', 'status', '-t', 'delta']);
    assert.equal(status.json.tenants[0]!.pending, 0);

    const file = written.json.file;
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        /CREATE TABLE `tags` \(/,
        'CREATE TABLE `tags` (\n  `extra` integer,',
      ),
    );
    const drift = await json<{ ok: boolean; differences: string[] }>(['db', 'snapshot', '--check']);
    assert.equal(drift.exitCode, 1);
    assert.ok(
      drift.json.differences.some((line) => /table tags: column extra/.test(line)),
      drift.json.differences.join('\n'),
    );
  });

  it('tenant create --migrate with an unknown seeder is exit 2 and creates nothing', async () => {
    const result = await cli(['tenant', 'create', 'echo', '--migrate', '--seed', '--class', 'Nope']);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /unknown seeder "Nope"/);
    const list = await json<Array<{ id: string }>>(['tenant', 'list']);
    assert.ok(
      !JSON.stringify(list.json).includes('"echo"'),
      '!JSON.stringify(list.json).includes(\'"echo"\')',
    );
  });
});

describe('afty db (CLI, MariaDB)', function () {
  this.timeout(120_000);
  let project: TestProject;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const tenantIds = ['one', 'two', 'three', 'four'];

  before(async () => {
    await requireMariaDb();
    project = createProject({ driver: 'mariadb' });
    writeStandardFixture(project.dir);
    writeScripts(path.join(project.dir, 'migrations/tenant'), {
      '004_slow.js': `export async function up(knex) { await knex.raw('SELECT SLEEP(0.3)'); await knex.schema.createTable('slow', (t) => t.increments('id')); }
export async function down(knex) { await knex.schema.dropTable('slow'); }
`,
    });
    const ctx = await project.context();
    try {
      const { Registry } = await import('../../src/lib/registry/index.js');
      await Registry.createDatabase(ctx.config.central);
    } finally {
      await ctx.close();
    }
    for (const id of tenantIds) {
      const created = await cli(['tenant', 'create', id]);
      assert.equal(created.exitCode, 0, created.stderr);
    }
  });
  after(() => project?.cleanup());

  it('two concurrent db migrate --all never apply a migration twice, and together migrate everything', async () => {
    const [first, second] = await Promise.all([
      runJson<MigrateJson>(['db', 'migrate', '--all', '-c', '2'], { cwd: project.dir, env: project.env }),
      runJson<MigrateJson>(['db', 'migrate', '--all', '-c', '2'], { cwd: project.dir, env: project.env }),
    ]);
    for (const run of [first, second]) {
      for (const tenant of run.json.tenants)
        assert.ok(['ok', 'locked'].includes(tenant.status), JSON.stringify(tenant));
    }
    const admin = await mariadbAdmin();
    try {
      for (const id of tenantIds) {
        const [names] = (await admin.raw('SELECT name FROM ?? ORDER BY id', [
          `${project.prefix}${id}.knex_migrations`,
        ])) as [Array<{ name: string }>];
        assert.deepEqual(
          names.map((row) => row.name),
          ['001_users.js', '002_teams.cjs', '003_posts.mjs', '004_slow.js'],
          `tenant ${id}`,
        );
        const applied = [first, second].flatMap((run) =>
          run.json.tenants.find((tenant) => tenant.tenant === id)!.applied.map((step) => step.name),
        );
        assert.equal(new Set(applied).size, applied.length, `each migration applied once for ${id}`);
      }
    } finally {
      await admin.destroy();
    }
    const status = await runJson<StatusJson>(['db', 'status', '--all', '--check'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(status.exitCode, 0);
    assert.equal(status.json.totals.upToDate, 4);
  });

  it('a failing migration on MySQL says DDL is not rolled back; the tenant fails, the others succeed', async () => {
    const admin = await mariadbAdmin();
    try {
      await admin.raw('CREATE TABLE ??.audit (id INT)', [`${project.prefix}two`]);
    } finally {
      await admin.destroy();
    }
    writeScripts(path.join(project.dir, 'migrations/tenant'), {
      '005_audit.js': createTableMigration('audit'),
    });
    const result = await runJson<MigrateJson>(['db', 'migrate', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(result.exitCode, 1);
    const two = result.json.tenants.find((tenant) => tenant.tenant === 'two')!;
    assert.match(
      two.error!,
      /migration 005_audit.js failed: Table 'audit' already exists; DDL it already ran is not rolled back/,
    );
    assert.equal(result.json.tenants.filter((tenant) => tenant.status === 'ok').length, 3);
  });
});

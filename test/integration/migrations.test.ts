import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AftyContext } from '../../src/lib/context.js';
import {
  MigrationLockedError,
  checkSnapshot,
  dropAllRelations,
  dumpSnapshot,
  migrateRegistered,
  provisioningSteps,
  rollbackTenant,
  seedTenant,
  seedersFor,
  sourceOf,
  targetOf,
  tenantStatus,
  unlockTenant,
  writeSnapshot,
} from '../../src/lib/migrations/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { createTenant, resolveTenant } from '../../src/lib/tenants/index.js';
import { createProject, type TestProject } from '../support/project.js';
import { mariadbAdmin, postgresAdmin, requireMariaDb, requirePostgres } from '../support/services.js';
import { createTableMigration, writeScripts, writeStandardFixture } from './migrations-fixture.js';

for (const driver of ['mariadb', 'postgres', 'postgres-schema', 'sqlite'] as const) {
  const postgres = driver === 'postgres' || driver === 'postgres-schema';
  describe(`tenant migrations on ${driver}`, function () {
    this.timeout(90_000);
    let project: TestProject;
    let ctx: AftyContext;
    let tenants: TenantRecord[];
    const migrationsDir = () => path.join(project.dir, 'migrations/tenant');

    /** Runs a query on a tenant database (as the tenant) and returns the rows. */
    async function query<T>(
      tenant: TenantRecord,
      sql: string,
      bindings: readonly string[] = [],
    ): Promise<T[]> {
      const location = targetOf(ctx, tenant).location;
      const db = await createKnex(location);
      try {
        const result = (await db.raw(sql, bindings)) as unknown;
        if (location.driver === 'mysql') return (result as [T[]])[0]!;
        return (location.driver === 'postgres' ? (result as { rows: T[] }).rows : result) as T[];
      } finally {
        await db.destroy();
      }
    }
    const recorded = async (tenant: TenantRecord) =>
      (await query<{ name: string }>(tenant, 'SELECT name FROM knex_migrations ORDER BY id')).map(
        (row) => row.name,
      );
    const reload = async (tenant: TenantRecord) => resolveTenant(await ctx.registry(), tenant.id);

    before(async () => {
      if (driver === 'mariadb') await requireMariaDb();
      if (postgres) await requirePostgres();
      project = createProject({ driver });
      writeStandardFixture(project.dir);
      await project.createCentral();
      ctx = await project.context();
      tenants = [];
      for (const id of ['alpha', 'bravo', 'charlie']) tenants.push(await createTenant(ctx, { id }));
    });
    after(async () => {
      await ctx?.close();
      await project?.cleanup();
    });

    it('migrates several tenants (ESM + CommonJS, *.d.ts ignored), recorded under their file names as knex does, stamps the registry', async () => {
      const source = sourceOf(ctx);
      assert.deepEqual(
        source.list().map((file) => file.name),
        ['001_users.js', '002_teams.cjs', '003_posts.mjs'],
      );
      for (const tenant of tenants) {
        const steps: string[] = [];
        const result = await migrateRegistered(ctx, tenant, source, {
          events: { finished: (step) => steps.push(step.name) },
        });
        assert.deepEqual(
          result.applied.map((step) => step.name),
          ['001_users.js', '002_teams.cjs', '003_posts.mjs'],
        );
        assert.deepEqual(steps, ['001_users.js', '002_teams.cjs', '003_posts.mjs']);
        assert.deepEqual(await recorded(tenant), ['001_users.js', '002_teams.cjs', '003_posts.mjs']);
        assert.ok((await reload(tenant)).lastMigratedAt, 'last_migrated_at set');
      }
      // Nothing pending: no lock taken, nothing written, registry untouched.
      const before = (await reload(tenants[0]!)).lastMigratedAt;
      const again = await migrateRegistered(ctx, tenants[0]!, sourceOf(ctx), {});
      assert.deepEqual(again, { applied: [], pending: [], batch: null });
      assert.equal((await reload(tenants[0]!)).lastMigratedAt, before);
    });

    it('status lists applied (batch, time), pending and missing-on-disk migrations', async () => {
      writeScripts(migrationsDir(), { '004_tags.js': createTableMigration('tags') });
      let status = await tenantStatus(targetOf(ctx, tenants[0]!), sourceOf(ctx));
      assert.deepEqual(
        status.migrations.map((entry) => [entry.name, entry.state, entry.batch]),
        [
          ['001_users.js', 'applied', 1],
          ['002_teams.cjs', 'applied', 1],
          ['003_posts.mjs', 'applied', 1],
          ['004_tags.js', 'pending', null],
        ],
      );
      assert.ok(
        status.migrations[0]!.appliedAt?.match(/^\d{4}-\d\d-\d\dT/),
        'status.migrations[0]!.appliedAt?.match(/^\\d{4}-\\d\\d-\\d\\dT/)',
      );
      assert.equal(status.pending, 1);
      // --step 1 applies exactly one, in a new batch.
      const stepped = await migrateRegistered(ctx, tenants[0]!, sourceOf(ctx), { step: 1 });
      assert.deepEqual(
        stepped.applied.map((step) => step.name),
        ['004_tags.js'],
      );
      assert.equal(stepped.batch, 2);
      // A recorded migration whose file is gone is "missing", and migrate refuses.
      const { rmSync } = await import('node:fs');
      rmSync(path.join(migrationsDir(), '004_tags.js'));
      status = await tenantStatus(targetOf(ctx, tenants[0]!), sourceOf(ctx));
      assert.deepEqual(status.migrations.at(-1), {
        name: '004_tags.js',
        state: 'missing',
        batch: 2,
        appliedAt: status.migrations.at(-1)!.appliedAt,
      });
      await assert.rejects(
        migrateRegistered(ctx, tenants[0]!, sourceOf(ctx), {}),
        /004_tags.js is recorded but missing on disk/,
      );
      writeScripts(migrationsDir(), { '004_tags.js': createTableMigration('tags') });
    });

    it('rolls back the last batch, or --step N, and migrates forward again', async () => {
      const alpha = tenants[0]!;
      const back = await rollbackTenant(targetOf(ctx, alpha), sourceOf(ctx));
      assert.deepEqual(
        back.rolledBack.map((step) => step.name),
        ['004_tags.js'],
      );
      const two = await rollbackTenant(targetOf(ctx, alpha), sourceOf(ctx), { step: 2 });
      assert.deepEqual(
        two.rolledBack.map((step) => step.name),
        ['003_posts.mjs', '002_teams.cjs'],
      );
      assert.deepEqual(await recorded(alpha), ['001_users.js']);
      const forward = await migrateRegistered(ctx, alpha, sourceOf(ctx), {});
      assert.deepEqual(
        forward.applied.map((step) => step.name),
        ['002_teams.cjs', '003_posts.mjs', '004_tags.js'],
      );
    });

    it('seeds in the order given, reports duration and memory; unknown seeders are exit 2 listing the available', async () => {
      const runs = await seedTenant(targetOf(ctx, tenants[1]!), seedersFor(ctx, ['Beta', 'Alpha']));
      assert.deepEqual(
        runs.map((run) => run.name),
        ['Beta', 'Alpha'],
      );
      for (const run of runs) {
        assert.ok(run.ms >= 0 && Number.isInteger(run.ms), 'run.ms >= 0 && Number.isInteger(run.ms)');
        assert.ok(run.memoryBytes >= 0, 'run.memoryBytes >= 0');
      }
      assert.deepEqual(
        (await query<{ seeder: string }>(tenants[1]!, 'SELECT seeder FROM seed_log ORDER BY id')).map(
          (row) => row.seeder,
        ),
        ['Beta', 'Alpha'],
      );
      assert.deepEqual(
        seedersFor(ctx, undefined).map((seeder) => seeder.name),
        ['DatabaseSeeder'],
      );
      assert.throws(
        () => seedersFor(ctx, ['Alpha', 'Nope']),
        (error: Error & { exitCode?: number }) =>
          error.exitCode === 2 &&
          /unknown seeder "Nope"/.test(error.message) &&
          /DatabaseSeeder, Alpha, Beta/.test(String((error as { hint?: string }).hint)),
      );
    });

    it('fresh drops every table and view, then migrates again', async () => {
      const bravo = tenants[1]!;
      await query(bravo, 'CREATE VIEW user_names AS SELECT name FROM users');
      const { dropped } = await dropAllRelations(targetOf(ctx, bravo));
      assert.ok(dropped >= 7, `dropped ${dropped}`);
      const status = await tenantStatus(targetOf(ctx, bravo), sourceOf(ctx));
      assert.equal(status.applied, 0);
      const again = await migrateRegistered(ctx, bravo, sourceOf(ctx), {});
      assert.equal(again.applied.length, 4);
    });

    it('a held lock is reported as locked at once, never waits; unlock frees it', async () => {
      const charlie = tenants[2]!;
      writeScripts(migrationsDir(), { '005_more.js': createTableMigration('more') });
      await query(charlie, 'UPDATE knex_migrations_lock SET is_locked = 1');
      const started = performance.now();
      await assert.rejects(
        migrateRegistered(ctx, charlie, sourceOf(ctx), {}),
        (error: Error) =>
          error instanceof MigrationLockedError &&
          /afty db unlock -t charlie/.test(String((error as { hint?: string }).hint)),
      );
      assert.ok(performance.now() - started < 3000, 'reported at once');
      assert.equal((await tenantStatus(targetOf(ctx, charlie), sourceOf(ctx))).locked, true);
      assert.deepEqual(await unlockTenant(targetOf(ctx, charlie)), { wasLocked: true });
      assert.deepEqual(await unlockTenant(targetOf(ctx, charlie)), { wasLocked: false });
      const result = await migrateRegistered(ctx, charlie, sourceOf(ctx), {});
      assert.deepEqual(
        result.applied.map((step) => step.name),
        ['004_tags.js', '005_more.js'],
      );
    });

    it('two concurrent runs on the same tenants never apply a migration twice', async () => {
      writeScripts(migrationsDir(), {
        '006_slow.js': `export async function up(knex) { await new Promise((r) => setTimeout(r, 300)); await knex.schema.createTable('slow', (t) => t.increments('id')); }
export async function down(knex) { await knex.schema.dropTable('slow'); }
`,
      });
      const run = () =>
        Promise.all(
          tenants.map((tenant) =>
            migrateRegistered(ctx, tenant, sourceOf(ctx), {}).then(
              (result) => result.applied.map((step) => step.name),
              (error: Error) => (error instanceof MigrationLockedError ? 'locked' : Promise.reject(error)),
            ),
          ),
        );
      const [first, second] = await Promise.all([run(), run()]);
      for (const [index, tenant] of tenants.entries()) {
        const names = await recorded(tenant);
        assert.equal(new Set(names).size, names.length, `no duplicates for ${tenant.id}: ${names.join(',')}`);
        assert.ok(names.includes('006_slow.js'), "names.includes('006_slow.js')");
        const outcomes = [first[index], second[index]];
        assert.ok(
          outcomes.includes('locked') ||
            outcomes.some((outcome) => Array.isArray(outcome) && outcome.length === 0),
        );
      }
    });

    it('runs racing on a brand-new database create knex tables once and never fail each other', async () => {
      const fresh = await createTenant(ctx, { id: 'foxtrot' });
      const outcomes = await Promise.all(
        [1, 2, 3].map(() =>
          migrateRegistered(ctx, fresh, sourceOf(ctx), {}).then(
            (result) => result.applied.length,
            (error: Error) => (error instanceof MigrationLockedError ? 'locked' : error.message),
          ),
        ),
      );
      assert.ok(
        outcomes.every((outcome) => outcome === 'locked' || typeof outcome === 'number'),
        JSON.stringify(outcomes),
      );
      const names = await recorded(fresh);
      assert.equal(new Set(names).size, names.length);
      assert.equal(
        Number((await query<{ n: number }>(fresh, 'SELECT COUNT(*) AS n FROM knex_migrations_lock'))[0]!.n),
        1,
      );
      const status = await tenantStatus(targetOf(ctx, fresh), sourceOf(ctx));
      assert.equal(status.pending + status.applied, sourceOf(ctx).list().length);
    });

    it('knex_migrations without its lock table (another run mid-way through creating them) still migrates', async () => {
      const half = await createTenant(ctx, { id: 'golf' });
      const id = driver === 'mariadb' ? 'int unsigned auto_increment' : postgres ? 'serial' : 'integer';
      await query(
        half,
        `CREATE TABLE knex_migrations (id ${id} primary key, name varchar(255), batch integer, migration_time ${postgres ? 'timestamptz' : 'datetime'})`,
      );
      const result = await migrateRegistered(ctx, half, sourceOf(ctx), {});
      assert.equal(result.applied.length, sourceOf(ctx).list().length, JSON.stringify(result));
      const [lock] = await query<{ n: number; held: number }>(
        half,
        'SELECT COUNT(*) AS n, SUM(is_locked) AS held FROM knex_migrations_lock',
      );
      assert.deepEqual([Number(lock!.n), Number(lock!.held)], [1, 0], 'one lock row, freed');
    });

    it('the last step frees the lock with its record, also outside a transaction (config.transaction false)', async () => {
      const [alpha] = tenants as [TenantRecord];
      const lockRows = async () =>
        (await query<{ is_locked: number }>(alpha, 'SELECT is_locked FROM knex_migrations_lock')).map((row) =>
          Number(row.is_locked),
        );
      const file = '006_zz_outside_transaction.js';
      writeScripts(migrationsDir(), {
        [file]: `export const config = { transaction: false };\n${createTableMigration('outside_transaction')}`,
      });
      try {
        const migrated = await migrateRegistered(ctx, alpha, sourceOf(ctx), {});
        assert.deepEqual(
          migrated.applied.map((step) => step.name),
          ['006_zz_outside_transaction.js'],
        );
        assert.deepEqual(await lockRows(), [0], 'freed after migrate');
        const rolledBack = await rollbackTenant(targetOf(ctx, alpha), sourceOf(ctx));
        assert.deepEqual(
          rolledBack.rolledBack.map((step) => step.name),
          ['006_zz_outside_transaction.js'],
        );
        assert.deepEqual(await lockRows(), [0], 'freed after rollback');
        assert.ok(!(await recorded(alpha)).includes('006_zz_outside_transaction.js'));
      } finally {
        const { rmSync } = await import('node:fs');
        rmSync(path.join(migrationsDir(), file));
      }
    });

    it('one tenant with a broken migration fails with its name; the others succeed; a fix converges', async () => {
      const [alpha, bravo, charlie] = tenants as [TenantRecord, TenantRecord, TenantRecord];
      // bravo already has a table the next migration creates: only bravo fails.
      await query(bravo, 'CREATE TABLE audit_log (id INTEGER)');
      writeScripts(migrationsDir(), {
        '007_audit.js': createTableMigration('audit_log'),
        '008_after.js': createTableMigration('after_audit'),
      });
      const outcomes = await Promise.allSettled(
        tenants.map((tenant) => migrateRegistered(ctx, tenant, sourceOf(ctx), {})),
      );
      assert.equal(outcomes[0]!.status, 'fulfilled');
      assert.equal(outcomes[2]!.status, 'fulfilled');
      const failed = outcomes[1] as PromiseRejectedResult;
      assert.equal(failed.status, 'rejected');
      assert.match(failed.reason.message, /migration 007_audit.js failed/);
      if (driver === 'mariadb')
        assert.match(failed.reason.message, /not rolled back \(MySQL commits DDL implicitly\)/);
      assert.equal(failed.reason.tenant, 'bravo');
      assert.ok(
        !(await recorded(bravo)).includes('007_audit.js'),
        "!(await recorded(bravo)).includes('007_audit.js')",
      );
      assert.ok(
        (await recorded(alpha)).includes('008_after.js'),
        "(await recorded(alpha)).includes('008_after.js')",
      );
      assert.ok(
        (await recorded(charlie)).includes('008_after.js'),
        "(await recorded(charlie)).includes('008_after.js')",
      );
      // The lock was freed: fixing the schema and rerunning converges.
      await query(bravo, 'DROP TABLE audit_log');
      const fixed = await migrateRegistered(ctx, bravo, sourceOf(ctx), {});
      assert.deepEqual(
        fixed.applied.map((step) => step.name),
        ['007_audit.js', '008_after.js'],
      );
    });

    if (driver !== 'sqlite') {
      it('a connection KILLed mid-migration fails that tenant only, frees the lock, and a rerun converges', async () => {
        const victim = tenants[1]!;
        const [whoAmI, sleep, rowsOf] =
          driver === 'mariadb'
            ? ['SELECT DATABASE() AS db', 'SELECT SLEEP(20)', '(r) => r[0]']
            : [
                driver === 'postgres' ? 'SELECT current_database() AS db' : 'SELECT current_schema() AS db',
                'SELECT pg_sleep(20)',
                '(r) => r.rows',
              ];
        writeScripts(migrationsDir(), {
          '009_sleepy.js': `export async function up(knex) {
  const [row] = (${rowsOf})(await knex.raw('${whoAmI}'));
  if (globalThis.aftySleepyDatabase === row.db) await knex.raw('${sleep}');
  await knex.schema.createTable('sleepy', (t) => t.increments('id'));
}
export async function down(knex) { await knex.schema.dropTable('sleepy'); }
`,
          '010_last.js': createTableMigration('last_one'),
        });
        (globalThis as { aftySleepyDatabase?: string }).aftySleepyDatabase = victim.database;
        const admin = driver === 'mariadb' ? await mariadbAdmin() : await postgresAdmin();
        /** Kills the sleeping migration's connection on the server; false while it is not running yet. */
        const killSleeper = async (): Promise<boolean> => {
          if (driver === 'mariadb') {
            const [rows] = (await admin.raw(
              "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT SLEEP%'",
              [victim.database],
            )) as [Array<{ id: number }>];
            if (rows[0]) await admin.raw(`KILL ${Number(rows[0].id)}`);
            return Boolean(rows[0]);
          }
          const { rows } = (await admin.raw(
            "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid() AND (datname = ? OR query_start IS NOT NULL AND ? = 'schema')",
            [victim.database, driver === 'postgres' ? 'database' : 'schema'],
          )) as { rows: unknown[] };
          return rows.length > 0;
        };
        try {
          const running = Promise.allSettled(
            tenants.map((tenant) => migrateRegistered(ctx, tenant, sourceOf(ctx), {})),
          );
          let killed = false;
          for (let attempt = 0; attempt < 100 && !killed; attempt += 1) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            killed = await killSleeper();
          }
          assert.ok(killed, 'found the sleeping migration to kill');
          const outcomes = await running;
          assert.equal(outcomes[1]!.status, 'rejected');
          assert.match(
            (outcomes[1] as PromiseRejectedResult).reason.message,
            /migration 009_sleepy.js failed/,
          );
          assert.equal(outcomes[0]!.status, 'fulfilled');
          assert.equal(outcomes[2]!.status, 'fulfilled');
          const names = await recorded(victim);
          assert.ok(
            !names.includes('009_sleepy.js') && !names.includes('010_last.js'),
            "!names.includes('009_sleepy.js') && !names.includes('010_last.js')",
          );
          const [lock] = await query<{ is_locked: number }>(
            victim,
            'SELECT is_locked FROM knex_migrations_lock',
          );
          assert.equal(Number(lock!.is_locked), 0, 'lock freed on a fresh connection');
        } finally {
          delete (globalThis as { aftySleepyDatabase?: string }).aftySleepyDatabase;
          await admin.destroy();
        }
        const rerun = await migrateRegistered(ctx, victim, sourceOf(ctx), {});
        assert.deepEqual(
          rerun.applied.map((step) => step.name),
          ['009_sleepy.js', '010_last.js'],
        );
        for (const tenant of tenants) {
          const status = await tenantStatus(targetOf(ctx, tenant), sourceOf(ctx));
          assert.equal(status.pending, 0);
        }
      });
    }

    it('snapshot: dump a migrated tenant, check it matches, provision a new tenant from it, detect drift', async () => {
      const snapshotFile = ctx.config.migrations.snapshot;
      // A view too: the dump must load as the tenant user (no DEFINER, no schema name).
      writeScripts(migrationsDir(), {
        '010z_view.js': `export async function up(knex) { await knex.raw('CREATE VIEW user_names AS SELECT name FROM users'); }
export async function down(knex) { await knex.raw('DROP VIEW user_names'); }
`,
      });
      await migrateRegistered(ctx, tenants[0]!, sourceOf(ctx), {});
      const dump = await dumpSnapshot(targetOf(ctx, tenants[0]!), { rows: false });
      writeSnapshot(snapshotFile, dump.sql);
      const server = ctx.servers.get(ctx.servers.names[0]!);
      const check = await checkSnapshot(ctx, server, sourceOf(ctx), snapshotFile);
      assert.deepEqual(check.differences, []);
      assert.equal(check.ok, true);

      // A newer migration: new tenants load the snapshot and run only that one.
      writeScripts(migrationsDir(), { '011_newest.js': createTableMigration('newest') });
      let migrated: { fromSnapshot: number; applied: Array<{ name: string }> } | undefined;
      await createTenant(
        ctx,
        { id: 'delta' },
        {
          extraSteps: provisioningSteps(ctx, { onMigrated: (result) => (migrated = result) }),
        },
      );
      assert.equal(migrated!.fromSnapshot, dump.meta.migrations.length);
      assert.deepEqual(
        migrated!.applied.map((step) => step.name),
        ['011_newest.js'],
      );
      const delta = await resolveTenant(await ctx.registry(), 'delta');
      assert.ok(delta.lastMigratedAt, 'delta.lastMigratedAt');
      assert.equal((await tenantStatus(targetOf(ctx, delta), sourceOf(ctx))).pending, 0);
      assert.deepEqual(await query(delta, 'SELECT * FROM user_names'), []);

      // Drift: the snapshot's index is not the one the migrations create.
      writeFileSync(snapshotFile, dump.sql.split('users_name_index').join('users_name_idx'));
      const drift = await checkSnapshot(ctx, server, sourceOf(ctx), snapshotFile);
      assert.equal(drift.ok, false);
      assert.ok(
        drift.differences.some((line) => /table users: index users_name_index/.test(line)),
        drift.differences.join('\n'),
      );
    });

    it('tenant create with a failing migration undoes the whole tenant', async () => {
      writeScripts(migrationsDir(), {
        '012_broken.js':
          'export async function up(knex) { await knex.raw("SELECT * FROM no_such_table"); }\nexport async function down() {}\n',
      });
      const server = ctx.servers.get(ctx.servers.names[0]!);
      await assert.rejects(
        createTenant(ctx, { id: 'echo' }, { extraSteps: provisioningSteps(ctx, {}) }),
        /migration 012_broken.js failed/,
      );
      assert.equal(await (await ctx.registry()).findTenant('echo'), undefined);
      assert.equal(await server.databaseExists(`${project.prefix}echo`), false);
      if (driver !== 'sqlite') assert.equal(await server.userExists(`${project.prefix}echo`), false);
    });
  });
}

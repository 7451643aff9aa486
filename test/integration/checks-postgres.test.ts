import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import {
  DEFAULT_CHECK_OPTIONS,
  DIAGNOSE_CHECKS,
  TEST_CHECKS,
  readOnlyRegistry,
  reportExitCode,
  runCheckSession,
  type Check,
  type CheckReport,
  type CheckResult,
} from '../../src/lib/checks/index.js';
import type { AftyContext } from '../../src/lib/context.js';
import { provisioningSteps } from '../../src/lib/migrations/index.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { createTenant } from '../../src/lib/tenants/index.js';
import { createProject, type TestProject } from '../support/project.js';
import { postgresAdmin, requirePostgres } from '../support/services.js';

const MIGRATION = `export async function up(knex) {
  await knex.schema.createTable('users', (t) => {
    t.increments('id');
    t.string('name', 100).notNullable().index();
  });
}
export async function down(knex) {
  await knex.schema.dropTable('users');
}
`;

/**
 * On these machines PostgreSQL trusts local connections (pg_hba.conf), so every login works
 * without a password: security.empty-password rightly warns about it. Nothing else may.
 */
const TRUST_WARNING = 'security.empty-password';

for (const driver of ['postgres', 'postgres-schema'] as const) {
  const schemaMode = driver === 'postgres-schema';
  describe(`checks on a PostgreSQL fleet (a ${schemaMode ? 'schema' : 'database'} per tenant)`, function () {
    this.timeout(120_000);
    let project: TestProject;
    let ctx: AftyContext;
    let tenants: Record<string, TenantRecord>;
    const everyone = { tenants: [], all: false, status: [], server: [], exclude: [] };
    const shared = () => `afty_app_${project.token}`;

    async function run(
      checks: Check[],
      options: { fix?: boolean; diagnose?: boolean; concurrency?: number } = {},
    ) {
      const fresh = await project.context();
      try {
        return await runCheckSession({
          command: options.diagnose ? 'diagnose' : 'test',
          checks,
          afty: fresh,
          registry: options.diagnose ? () => readOnlyRegistry(fresh) : () => fresh.registry(),
          selection: everyone,
          concurrency: options.concurrency ?? 4,
          fix: options.fix,
          // Generous latency limits: this suite proves the probes run on PostgreSQL, on a shared, busy machine.
          options: {
            ...DEFAULT_CHECK_OPTIONS,
            durationMs: 300,
            workers: 2,
            maxLatencyMs: 2000,
            maxConnectMs: 5000,
          },
        });
      } finally {
        await fresh.close();
      }
    }
    const problems = (report: CheckReport) =>
      report.results.filter(
        (result) => (result.status === 'fail' || result.status === 'warn') && result.id !== TRUST_WARNING,
      );
    const failed = (report: CheckReport, id: string) =>
      report.results.filter((result) => result.id === id && result.status === 'fail');
    const only = (report: CheckReport, id: string, tenant: string): CheckResult => {
      const results = failed(report, id);
      assert.deepEqual(
        results.map((result) => result.tenant),
        [tenant],
        `${id} should fail for ${tenant} only: ${JSON.stringify(problems(report), null, 1)}`,
      );
      return results[0]!;
    };
    const role = (id: string) => tenants[id]!.dbUser!;
    const place = (id: string) => tenants[id]!.database;
    /** Runs statements as the superuser where the tenant lives (its database, or the shared one). */
    async function sql(id: string | undefined, ...statements: string[]): Promise<void> {
      const db = await postgresAdmin(schemaMode ? shared() : id ? place(id) : 'postgres');
      try {
        for (const statement of statements) await db.raw(statement);
      } finally {
        await db.destroy();
      }
    }
    /**
     * Waits until the server lists no session on `database`: a closed connection's backend can
     * linger for a moment, and the lock check rightly takes a session for a running migration.
     */
    async function noSessionsOn(database: string): Promise<void> {
      const db = await postgresAdmin();
      try {
        for (let attempt = 0; attempt < 50; attempt += 1) {
          const { rows } = (await db.raw('SELECT 1 FROM pg_stat_activity WHERE datname = ?', [database])) as {
            rows: unknown[];
          };
          if (rows.length === 0) return;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        await db.destroy();
      }
    }
    /** The statement that gives `grantee` the kind of access a tenant must never have to `id`. */
    const grantOn = (id: string, grantee: string) =>
      schemaMode
        ? [
            `GRANT USAGE ON SCHEMA "${place(id)}" TO ${grantee}`,
            `GRANT SELECT ON ALL TABLES IN SCHEMA "${place(id)}" TO ${grantee}`,
          ]
        : [`GRANT CONNECT ON DATABASE "${place(id)}" TO ${grantee}`];
    const revokeOn = (id: string, grantee: string) =>
      schemaMode
        ? [
            `REVOKE ALL ON ALL TABLES IN SCHEMA "${place(id)}" FROM ${grantee}`,
            `REVOKE ALL ON SCHEMA "${place(id)}" FROM ${grantee}`,
          ]
        : [`REVOKE ALL ON DATABASE "${place(id)}" FROM ${grantee}`];

    before(async () => {
      await requirePostgres();
      project = createProject({ driver });
      const migrations = path.join(project.dir, 'migrations/tenant');
      mkdirSync(migrations, { recursive: true });
      writeFileSync(path.join(migrations, '001_users.mjs'), MIGRATION);
      await project.createCentral();
      ctx = await project.context();
      tenants = {};
      for (const id of ['alpha', 'beta', 'gamma']) {
        tenants[id] = await createTenant(ctx, { id }, { extraSteps: provisioningSteps(ctx, {}) });
      }
    });
    after(async () => {
      await ctx?.close();
      await project?.cleanup();
    });

    it('isolation, security, connections, database and performance pass on a healthy fleet', async () => {
      const report = await run([
        ...TEST_CHECKS.connections,
        ...TEST_CHECKS.isolation,
        ...TEST_CHECKS.cache,
        ...TEST_CHECKS.database,
        ...TEST_CHECKS.performance,
        ...TEST_CHECKS.security,
      ]);
      assert.deepEqual(problems(report), []);
      assert.equal(reportExitCode(report.results), 0);
      const status = (id: string, tenant: string | null = 'alpha') =>
        report.results.find((result) => result.id === id && result.tenant === tenant)?.status;
      // The probes really ran: nothing was skipped for lack of an engine.
      for (const id of [
        'isolation.database-access',
        'isolation.rows',
        'security.privileges',
        'database.schema-drift',
      ])
        assert.equal(status(id), 'pass', id);
      const admin = report.results.find((result) => result.id === 'security.admin')!;
      assert.equal(admin.status, 'pass');
      assert.match(admin.message, /^postgres: SUPERUSER/);
      const connection = report.results.find((result) => result.id === 'connections.tenant')!;
      assert.match(connection.message, new RegExp(`as ${role('alpha')}`));
    });

    it('a cross-tenant grant fails isolation and security naming both tenants; REVOKE makes them pass', async () => {
      await sql('beta', ...grantOn('beta', `"${role('alpha')}"`));
      try {
        const report = await run([...TEST_CHECKS.isolation, ...TEST_CHECKS.security]);
        const access = only(report, 'isolation.database-access', 'alpha');
        assert.match(
          access.message,
          new RegExp(`^alpha's user reaches other tenants: ${role('alpha')} on beta: `),
        );
        assert.match(
          access.message,
          schemaMode
            ? new RegExp(`holds USAGE on schema ${place('beta')}.*holds SELECT on ${place('beta')}\\.users`)
            : new RegExp(
                `connecting to ${place('beta')} succeeded.*holds CONNECT on database ${place('beta')}`,
              ),
        );
        assert.match(access.remedy!, /--tenant alpha/);
        const privileges = only(report, 'security.privileges', 'alpha');
        assert.match(
          privileges.message,
          new RegExp(`privileges on ${schemaMode ? 'schema' : 'database'} ${place('beta')}`),
        );
        // The remedy is SQL that takes the grant away.
        await sql('beta', privileges.remedy!);
        assert.equal(reportExitCode(report.results), 1);
      } finally {
        await sql('beta', ...revokeOn('beta', `"${role('alpha')}"`));
      }
      const after = await run([...TEST_CHECKS.isolation, ...TEST_CHECKS.security]);
      assert.deepEqual(problems(after), []);
      // The probes cleaned up after themselves: no probe table is left anywhere.
      const db = await postgresAdmin(schemaMode ? shared() : place('beta'));
      try {
        const left = (await db.raw("SELECT relname FROM pg_class WHERE relname LIKE 'afty\\_probe\\_%'")) as {
          rows: unknown[];
        };
        assert.deepEqual(left.rows, []);
      } finally {
        await db.destroy();
      }
    });

    it('a PUBLIC privilege on a tenant database (or schema) fails isolation for the others and security for its owner', async () => {
      await sql(
        'gamma',
        ...(schemaMode
          ? [`GRANT USAGE ON SCHEMA "${place('gamma')}" TO PUBLIC`]
          : grantOn('gamma', 'PUBLIC')),
      );
      try {
        const report = await run([...TEST_CHECKS.isolation, ...TEST_CHECKS.security]);
        const access = failed(report, 'isolation.database-access');
        assert.deepEqual(
          access.map((result) => result.tenant),
          ['alpha', 'beta'],
        );
        assert.match(
          access[0]!.message,
          schemaMode
            ? new RegExp(`on gamma: holds USAGE on schema ${place('gamma')} through PUBLIC`)
            : new RegExp(
                `on gamma: connecting to ${place('gamma')} succeeded.*CONNECT on database ${place('gamma')} through PUBLIC`,
              ),
        );
        const privileges = only(report, 'security.privileges', 'gamma');
        assert.match(
          privileges.message,
          new RegExp(`its ${schemaMode ? 'schema' : 'database'} open to PUBLIC`),
        );
        assert.match(privileges.remedy!, /FROM PUBLIC/);
        await sql('gamma', privileges.remedy!);
      } finally {
        await sql('gamma', ...revokeOn('gamma', 'PUBLIC'));
      }
      assert.deepEqual(problems(await run(TEST_CHECKS.isolation)), []);
    });

    it('a tenant role with CREATEDB, CREATEROLE or BYPASSRLS fails security; the remedy takes them away', async () => {
      await sql(undefined, `ALTER ROLE "${role('beta')}" CREATEDB CREATEROLE BYPASSRLS`);
      try {
        const report = await run(TEST_CHECKS.security);
        const result = only(report, 'security.privileges', 'beta');
        assert.match(result.message, /role attributes CREATEROLE, CREATEDB, BYPASSRLS/);
        assert.equal(result.remedy, `ALTER ROLE "${role('beta')}" NOCREATEROLE NOCREATEDB NOBYPASSRLS`);
        await sql(undefined, result.remedy);
      } finally {
        await sql(undefined, `ALTER ROLE "${role('beta')}" NOCREATEDB NOCREATEROLE NOBYPASSRLS`);
      }
      assert.deepEqual(problems(await run(TEST_CHECKS.security)), []);
    });

    it('database names a drifted table against a tenant with the same migrations', async () => {
      const table = schemaMode ? `"${place('beta')}".users` : 'users';
      await sql('beta', `ALTER TABLE ${table} ADD COLUMN nickname varchar(20)`);
      try {
        const drift = only(await run(TEST_CHECKS.database), 'database.schema-drift', 'beta');
        assert.match(drift.message, /beta drifted from alpha .*users.*nickname/);
      } finally {
        await sql('beta', `ALTER TABLE ${table} DROP COLUMN nickname`);
      }
    });

    it('diagnose reports connection settings, an orphan and a stale role with remedies that work', async () => {
      const orphan = `${project.prefix}orphan`;
      const stale = `${project.prefix}stale`;
      await sql(
        undefined,
        schemaMode ? `CREATE SCHEMA "${orphan}"` : `CREATE DATABASE "${orphan}"`,
        `CREATE ROLE "${stale}"`,
      );
      const report = await run(DIAGNOSE_CHECKS, { diagnose: true });
      const find = (id: string) => report.results.find((result) => result.id === id)!;
      const settings = find('servers.variables');
      assert.match(settings.message, /max_connections \d+ \(\d+ reserved for superusers, \d+ in use\)/);
      assert.match(settings.message, /concurrency \d+/);
      const idle = Number(
        (settings.details as { idleInTransactionTimeoutMs: number }).idleInTransactionTimeoutMs,
      );
      if (idle === 0) {
        assert.equal(settings.status, 'warn');
        assert.match(settings.message, /idle_in_transaction_session_timeout is 0 \(off\).*ALTER SYSTEM SET/);
      }
      assert.equal(find('servers.anonymous-users').status, 'skip');
      assert.equal(find('tools.dump').status, 'pass');
      assert.match(find('tools.dump').message, /pg_dump \(PostgreSQL\).*pg_restore \(PostgreSQL\)/);
      const orphans = find('database.orphans');
      assert.equal(orphans.status, 'warn');
      assert.deepEqual((orphans.details as { orphans: string[] }).orphans, [orphan]);
      const users = find('servers.stale-users');
      assert.equal(users.status, 'warn');
      assert.deepEqual((users.details as { users: string[] }).users, [stale]);
      // The remedies are psql commands against the right database: run them as printed.
      const dropOrphan = /: (psql .*)$/.exec(orphans.remedy!)![1]!;
      assert.match(
        dropOrphan,
        new RegExp(
          `-d ${schemaMode ? shared() : 'postgres'} -c 'DROP ${schemaMode ? 'SCHEMA' : 'DATABASE'} "${orphan}"`,
        ),
      );
      await execa('sh', ['-c', dropOrphan]);
      await execa('sh', ['-c', /: (psql .*)$/.exec(users.remedy!)![1]!]);
      const clean = await run(DIAGNOSE_CHECKS, { diagnose: true });
      for (const id of ['database.orphans', 'servers.stale-users'])
        assert.equal(clean.results.find((result) => result.id === id)!.status, 'pass', id);
    });

    it('a dropped database, a dropped role and a stale lock fail; diagnose --fix repairs them', async () => {
      const server = ctx.servers.get('default');
      await server.dropDatabase(place('beta'));
      await server.dropUser(role('gamma'));
      const lockTable = schemaMode ? `"${place('alpha')}".knex_migrations_lock` : 'knex_migrations_lock';
      await sql('alpha', `UPDATE ${lockTable} SET is_locked = 1`);
      await noSessionsOn(place('alpha'));

      const before = await run(DIAGNOSE_CHECKS, { diagnose: true });
      only(before, 'database.present', 'beta');
      only(before, 'tenants.user', 'gamma');
      only(before, 'database.migration-lock', 'alpha');

      // One tenant at a time: two concurrent PostgresServer.createUser calls with a schema per
      // tenant GRANT CONNECT on the shared database at once, which PostgreSQL refuses ("tuple
      // concurrently updated") — a race in the server's user creation, not in the checks.
      const fixed = await run(DIAGNOSE_CHECKS, { diagnose: true, fix: true, concurrency: 1 });
      const fixes = fixed.results
        .filter((result) => result.fix)
        .map((result) => [result.id, result.tenant, result.fix!.applied]);
      assert.deepEqual(fixes, [
        ['tenants.user', 'gamma', true],
        ['database.present', 'beta', true],
        ['database.migration-lock', 'alpha', true],
      ]);
      const after = await run(DIAGNOSE_CHECKS, { diagnose: true });
      for (const id of ['database.present', 'tenants.user', 'database.migration-lock'])
        assert.deepEqual(failed(after, id), [], id);
      const again = await run([...TEST_CHECKS.connections, ...TEST_CHECKS.database]);
      assert.deepEqual(problems(again), []);
    });

    it('a tenant that lost both its database and its role gets both back (tenants.user --fix makes them together)', async () => {
      const server = ctx.servers.get('default');
      await server.dropDatabase(place('alpha'));
      await server.dropUser(role('alpha'));
      const fixed = await run(DIAGNOSE_CHECKS, { diagnose: true, fix: true, concurrency: 1 });
      assert.deepEqual(
        fixed.results.filter((result) => result.fix).map((result) => [result.id, result.fix!.applied]),
        [['tenants.user', true]],
      );
      assert.match(
        fixed.results.find((result) => result.fix)!.fix!.message,
        /recreated user \S+alpha .* and its missing database: created \S+alpha .* applied 1 migration/,
      );
      const again = await run([
        ...TEST_CHECKS.connections,
        ...TEST_CHECKS.database,
        ...TEST_CHECKS.isolation,
      ]);
      assert.deepEqual(problems(again), []);
    });
  });
}

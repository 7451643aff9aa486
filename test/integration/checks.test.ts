import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import {
  DEFAULT_CHECK_OPTIONS,
  DIAGNOSE_CHECKS,
  TEST_CATEGORIES,
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
import { Registry, type TenantRecord } from '../../src/lib/registry/index.js';
import { createTenant, decryptSecret } from '../../src/lib/tenants/index.js';
import { createProject, type TestProject } from '../support/project.js';
import { REDIS_URL, mariadbAdmin, requireMariaDb, requireRedis } from '../support/services.js';

const MIGRATION = (table: string) => `export async function up(knex) {
  await knex.schema.createTable('${table}', (t) => {
    t.increments('id');
    t.string('name', 100).notNullable().index();
  });
}
export async function down(knex) {
  await knex.schema.dropTable('${table}');
}
`;

describe('checks on a MariaDB + Redis fleet', function () {
  this.timeout(120_000);
  let project: TestProject;
  let ctx: AftyContext;
  let tenants: Record<string, TenantRecord>;
  let admin: Awaited<ReturnType<typeof mariadbAdmin>>;
  let redis: Redis;
  const migrations = () => path.join(project.dir, 'migrations/tenant');
  const everyone = { tenants: [], all: false, status: [], server: [], exclude: [] };

  async function run(
    checks: Check[],
    options: { fix?: boolean; diagnose?: boolean } = {},
  ): Promise<CheckReport> {
    // A fresh context per run, as each CLI invocation has (tenants are re-read from the registry).
    const fresh = await project.context();
    try {
      return await runCheckSession({
        command: options.diagnose ? 'diagnose' : 'test',
        checks,
        afty: fresh,
        registry: options.diagnose ? () => readOnlyRegistry(fresh) : () => fresh.registry(),
        selection: everyone,
        concurrency: 4,
        fix: options.fix,
        options: { ...DEFAULT_CHECK_OPTIONS, durationMs: 500, workers: 2 },
      });
    } finally {
      await fresh.close();
    }
  }
  const problems = (report: CheckReport) =>
    report.results.filter((result) => result.status === 'fail' || result.status === 'warn');
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
  const user = (id: string) => tenants[id]!.dbUser!;

  before(async () => {
    await requireMariaDb();
    await requireRedis();
    project = createProject({ driver: 'mariadb' });
    const config = { ...project.config, cache: { ...(project.config.cache as object), url: REDIS_URL } };
    writeFileSync(path.join(project.dir, 'afty.config.json'), JSON.stringify(config));
    mkdirSync(migrations(), { recursive: true });
    writeFileSync(path.join(migrations(), '001_users.mjs'), MIGRATION('users'));
    writeFileSync(path.join(migrations(), '002_projects.mjs'), MIGRATION('projects'));
    ctx = await project.context();
    await Registry.createDatabase(ctx.config.central);
    tenants = {};
    for (const id of ['alpha', 'beta', 'gamma']) {
      tenants[id] = await createTenant(ctx, { id }, { extraSteps: provisioningSteps(ctx, {}) });
    }
    admin = await mariadbAdmin();
    redis = new Redis(REDIS_URL);
  });
  after(async () => {
    redis?.disconnect();
    await admin?.destroy();
    await ctx?.close();
    await project?.cleanup();
  });

  for (const category of TEST_CATEGORIES) {
    it(`${category} passes on a healthy fleet`, async () => {
      const report = await run(TEST_CHECKS[category]);
      assert.deepEqual(problems(report), []);
      assert.equal(reportExitCode(report.results), 0);
      const perTenant = TEST_CHECKS[category].filter((check) => check.scope === 'tenant').length;
      assert.equal(report.results.filter((result) => result.tenant).length, perTenant * 3);
    });
  }

  it('diagnose is clean on a healthy fleet', async () => {
    const report = await run(DIAGNOSE_CHECKS, { diagnose: true });
    assert.deepEqual(problems(report), []);
  });

  it("isolation and security fail, naming the tenant, when a user is granted another tenant's database", async () => {
    await admin.raw('GRANT SELECT, INSERT ON ??.* TO ?@?', [tenants.beta!.database, user('alpha'), '%']);
    try {
      const report = await run([...TEST_CHECKS.isolation, ...TEST_CHECKS.security]);
      const access = only(report, 'isolation.database-access', 'alpha');
      assert.match(access.message, new RegExp(`reading ${tenants.beta!.database} succeeded`));
      assert.match(access.message, new RegExp(`writing ${tenants.beta!.database} succeeded`));
      assert.match(access.remedy!, /REVOKE .*--tenant alpha/);
      const privileges = only(report, 'security.privileges', 'alpha');
      assert.match(privileges.message, new RegExp(`on ${tenants.beta!.database}`));
      assert.match(privileges.remedy!, /REVOKE/);
      assert.equal(reportExitCode(report.results), 1);
    } finally {
      await admin.raw('REVOKE ALL PRIVILEGES ON ??.* FROM ?@?', [tenants.beta!.database, user('alpha'), '%']);
    }
    // The probes cleaned up after themselves: no probe table is left in any tenant database.
    const [left] = (await admin.raw(
      "SELECT table_name FROM information_schema.tables WHERE table_schema LIKE ? AND table_name LIKE 'afty\\_probe\\_%'",
      [`${project.prefix.replace(/_/g, '\\_')}%`],
    )) as [unknown[]];
    assert.deepEqual(left, []);
  });

  it('security fails for a tenant user with an empty password', async () => {
    const password = decryptSecret(tenants.gamma!.dbPassword!, ctx.config.secret);
    await admin.raw("ALTER USER ?@? IDENTIFIED BY ''", [user('gamma'), '%']);
    try {
      const report = await run(TEST_CHECKS.security);
      const result = only(report, 'security.empty-password', 'gamma');
      assert.match(result.message, /empty password/);
      assert.match(result.remedy!, /diagnose --fix --tenant gamma/);
    } finally {
      await admin.raw('ALTER USER ?@? IDENTIFIED BY ?', [user('gamma'), '%', password]);
    }
  });

  it('database fails for a pending migration, naming it, each tenant and the remedy', async () => {
    const file = path.join(migrations(), '003_tasks.mjs');
    writeFileSync(file, MIGRATION('tasks'));
    try {
      const report = await run(TEST_CHECKS.database);
      const pending = failed(report, 'database.pending');
      assert.deepEqual(
        pending.map((result) => result.tenant),
        ['alpha', 'beta', 'gamma'],
      );
      assert.match(pending[0]!.message, /1 pending migration\(s\) on alpha: 003_tasks/);
      assert.equal(pending[0]!.remedy, 'afty db migrate --tenant alpha');
    } finally {
      rmSync(file);
    }
  });

  it('database names a drifted table against a tenant with the same migrations', async () => {
    await admin.raw('ALTER TABLE ??.users ADD COLUMN nickname VARCHAR(20) NULL', [tenants.beta!.database]);
    try {
      const report = await run(TEST_CHECKS.database);
      const drift = only(report, 'database.schema-drift', 'beta');
      assert.match(drift.message, /beta drifted from alpha/);
      assert.match(drift.message, /users/);
      assert.match(drift.message, /nickname/);
      assert.ok(drift.remedy, 'drift.remedy');
    } finally {
      await admin.raw('ALTER TABLE ??.users DROP COLUMN nickname', [tenants.beta!.database]);
    }
  });

  it('isolation fails for a Redis key written without the tenant prefix, naming the tenant', async () => {
    const prefix = ctx.config.cache.prefix;
    const leaked = `${prefix}session:beta:42`;
    await redis.set(leaked, 'secret');
    try {
      const report = await run(TEST_CHECKS.isolation);
      const [result] = failed(report, 'isolation.cache-keyspace');
      assert.ok(result, JSON.stringify(problems(report)));
      assert.match(result.message, new RegExp(leaked.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.match(result.message, /naming tenant beta/);
      assert.match(result.remedy!, /tenantCache\(\)/);
      // Tenant keys written through the library are fine.
      assert.deepEqual(failed(report, 'isolation.cache'), []);
    } finally {
      await redis.del(leaked);
    }
  });

  it('a dropped database, a dropped user and a stale lock fail; diagnose --fix repairs them and the next run is clean', async () => {
    await admin.raw('DROP DATABASE ??', [tenants.beta!.database]);
    await admin.raw('DROP USER ?@?', [user('gamma'), '%']);
    await admin.raw('UPDATE ??.knex_migrations_lock SET is_locked = 1', [tenants.alpha!.database]);

    const test = await run(TEST_CHECKS.database);
    const missing = only(test, 'database.present', 'beta');
    assert.match(missing.message, /missing/);
    assert.match(missing.remedy!, /afty diagnose --fix --tenant beta/);

    const before = await run(DIAGNOSE_CHECKS, { diagnose: true });
    only(before, 'database.present', 'beta');
    only(before, 'tenants.user', 'gamma');
    only(before, 'database.migration-lock', 'alpha');
    assert.equal(reportExitCode(before.results), 1);

    const fixed = await run(DIAGNOSE_CHECKS, { diagnose: true, fix: true });
    assert.deepEqual(problems(fixed), []);
    const fixes = fixed.results
      .filter((result) => result.fix)
      .map((result) => [result.id, result.tenant, result.fix!.applied]);
    assert.deepEqual(fixes, [
      ['tenants.user', 'gamma', true],
      ['database.present', 'beta', true],
      ['database.migration-lock', 'alpha', true],
    ]);

    const after = await run(DIAGNOSE_CHECKS, { diagnose: true });
    assert.deepEqual(problems(after), []);
    // The repaired tenants work again with their own (new) credentials, migrated.
    const again = await run([...TEST_CHECKS.connections, ...TEST_CHECKS.database]);
    assert.deepEqual(problems(again), []);
  });
});

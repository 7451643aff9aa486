import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CheckReport, CheckResult } from '../../src/lib/checks/types.js';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';
import { postgresAdmin, requirePostgres } from '../support/services.js';

const MIGRATION = `export async function up(knex) {
  await knex.schema.createTable('users', (t) => {
    t.increments('id');
    t.string('name', 100);
  });
}
export async function down(knex) {
  await knex.schema.dropTable('users');
}
`;

for (const driver of ['postgres', 'postgres-schema'] as const) {
  const schemaMode = driver === 'postgres-schema';
  describe(`afty test isolation / afty diagnose (CLI, PostgreSQL, a ${schemaMode ? 'schema' : 'database'} per tenant)`, function () {
    this.timeout(120_000);
    let project: TestProject;
    const json = (args: string[]) => runJson<CheckReport>(args, { cwd: project.dir, env: project.env });
    const database = (id: string) => `${project.prefix}${id}`;
    /** Runs statements as the superuser where the tenants live (the shared database per schema). */
    async function sql(...statements: string[]): Promise<void> {
      const db = await postgresAdmin(schemaMode ? `afty_app_${project.token}` : 'postgres');
      try {
        for (const statement of statements) await db.raw(statement);
      } finally {
        await db.destroy();
      }
    }
    const results = (report: CheckReport, id: string, status = 'fail'): CheckResult[] =>
      report.results.filter((result) => result.id === id && result.status === status);

    before(async () => {
      await requirePostgres();
      project = createProject({ driver });
      const migrations = path.join(project.dir, 'migrations/tenant');
      mkdirSync(migrations, { recursive: true });
      writeFileSync(path.join(migrations, '001_users.mjs'), MIGRATION);
      await project.createCentral();
      for (const id of ['alpha', 'beta']) {
        const created = await runCli(['tenant', 'create', id, '--migrate'], {
          cwd: project.dir,
          env: project.env,
        });
        assert.equal(created.exitCode, 0, created.stderr);
      }
    });
    after(() => project?.cleanup());

    it('test isolation --json passes, fails with exit 1 naming both tenants after a cross-tenant grant, and passes after REVOKE', async () => {
      const healthy = await json(['test', 'isolation']);
      assert.equal(
        healthy.exitCode,
        0,
        JSON.stringify(healthy.json.results.filter((r) => r.status !== 'pass')),
      );
      assert.equal(results(healthy.json, 'isolation.database-access', 'pass').length, 2);

      const grant = schemaMode
        ? [`GRANT USAGE ON SCHEMA "${database('beta')}" TO "${database('alpha')}"`]
        : [`GRANT CONNECT ON DATABASE "${database('beta')}" TO "${database('alpha')}"`];
      await sql(...grant);
      const breached = await json(['test', 'isolation']);
      assert.equal(breached.exitCode, 1);
      const [access] = results(breached.json, 'isolation.database-access');
      assert.equal(access?.tenant, 'alpha', JSON.stringify(breached.json.results));
      assert.match(
        access!.message,
        new RegExp(`^alpha's user reaches other tenants: ${database('alpha')} on beta: `),
      );
      assert.match(access!.message, schemaMode ? /holds USAGE on schema/ : /connecting to \S+beta succeeded/);
      assert.equal(results(breached.json, 'isolation.database-access').length, 1);

      await sql(grant[0]!.replace(/^GRANT (\S+) ON/, 'REVOKE $1 ON').replace(' TO ', ' FROM '));
      assert.equal((await json(['test', 'isolation'])).exitCode, 0);
    });

    if (!schemaMode) {
      it('test isolation --json fails for the other tenants when PUBLIC may connect to a tenant database', async () => {
        await sql(`GRANT CONNECT ON DATABASE "${database('beta')}" TO PUBLIC`);
        try {
          const report = await json(['test', 'isolation', 'security']);
          assert.equal(report.exitCode, 1);
          const [access] = results(report.json, 'isolation.database-access');
          assert.equal(access?.tenant, 'alpha');
          assert.match(access!.message, new RegExp(`CONNECT on database ${database('beta')} through PUBLIC`));
          const [privileges] = results(report.json, 'security.privileges');
          assert.equal(privileges?.tenant, 'beta');
          assert.equal(privileges!.remedy, `REVOKE ALL ON DATABASE "${database('beta')}" FROM PUBLIC`);
        } finally {
          await sql(`REVOKE ALL ON DATABASE "${database('beta')}" FROM PUBLIC`);
        }
      });
    }

    it('diagnose --json names an orphan, a stale role and a missing database; --fix repairs what it may', async () => {
      const orphan = database('orphan');
      await sql(
        schemaMode ? `CREATE SCHEMA "${orphan}"` : `CREATE DATABASE "${orphan}"`,
        `CREATE ROLE "${database('stale')}"`,
      );
      const warned = await json(['diagnose']);
      // Warnings only: exit 0.
      assert.equal(
        warned.exitCode,
        0,
        JSON.stringify(warned.json.results.filter((r) => r.status === 'fail')),
      );
      const [orphans] = results(warned.json, 'database.orphans', 'warn');
      assert.match(
        orphans!.remedy!,
        new RegExp(
          `psql .* -c 'DROP ${schemaMode ? `SCHEMA "${orphan}" CASCADE` : `DATABASE "${orphan}" WITH \\(FORCE\\)`}'`,
        ),
      );
      const [stale] = results(warned.json, 'servers.stale-users', 'warn');
      assert.match(stale!.message, new RegExp(database('stale')));
      assert.match(stale!.remedy!, /DROP ROLE/);

      const admin = await postgresAdmin(schemaMode ? `afty_app_${project.token}` : 'postgres');
      try {
        await admin.raw(
          schemaMode
            ? `DROP SCHEMA "${database('beta')}" CASCADE`
            : `DROP DATABASE "${database('beta')}" WITH (FORCE)`,
        );
      } finally {
        await admin.destroy();
      }
      const missing = await json(['diagnose']);
      assert.equal(missing.exitCode, 1);
      const [present] = results(missing.json, 'database.present');
      assert.equal(present?.tenant, 'beta');
      assert.equal(
        present!.remedy,
        'afty diagnose --fix --tenant beta (creates and migrates it), or restore it with afty backup restore',
      );

      const fixed = await json(['diagnose', '--fix']);
      assert.equal(fixed.exitCode, 0, JSON.stringify(fixed.json.results.filter((r) => r.status === 'fail')));
      const repair = fixed.json.results.find((result) => result.fix);
      assert.equal(repair?.tenant, 'beta');
      assert.match(repair!.fix!.message, /created \S+beta .* applied 1 migration/);
      const after = await json(['test', 'connections', 'database', 'isolation']);
      assert.equal(after.exitCode, 0, JSON.stringify(after.json.results.filter((r) => r.status === 'fail')));
    });
  });
}

import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { seedTenant, tableChecksums, withTenantDb } from '../integration/backup-fixture.js';
import { runCli, runUntilPaused } from '../support/cli.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-servers.js';
import { createPrivateServerProject, type TestProject } from '../support/project.js';

/** Tables with their rows, and every view, trigger and routine by name. */
async function fingerprint(db: Knex): Promise<{ tables: Record<string, string>; objects: string[] }> {
  const [objects] = (await db.raw(
    `SELECT CONCAT('view:', table_name) AS o FROM information_schema.views WHERE table_schema = DATABASE()
     UNION ALL SELECT CONCAT('trigger:', trigger_name) FROM information_schema.triggers WHERE trigger_schema = DATABASE()
     UNION ALL SELECT CONCAT(LOWER(routine_type), ':', routine_name) FROM information_schema.routines WHERE routine_schema = DATABASE()
     ORDER BY 1`,
  )) as [Array<{ o: string }>];
  return { tables: await tableChecksums(db, 'mysql'), objects: objects.map((row) => row.o) };
}

/** The swap's steps in order (src/lib/backup/mysql.ts), and whether the tables had moved once each was done. */
const KILL_POINTS: Array<{ step: string; moved: boolean }> = [
  { step: 'restore loaded', moved: false },
  { step: 'safety database', moved: false },
  { step: 'detach views, triggers and routines', moved: false },
  { step: 'detach incoming views, triggers and routines', moved: false },
  { step: 'rename tables', moved: true },
  { step: 'safety copy objects', moved: true },
  { step: 'attach views, triggers and routines', moved: true },
];

/**
 * The suite runs once per way of ending the interrupted restore, each in its own test file, so
 * the two halves (each a private mariadbd and ~60 CLI runs) run in parallel.
 *
 * A restore killed inside the swap lost the tenant's views, triggers and routines in 3 of 18
 * kills. The swap is journalled: the next backup restore or diagnose --fix ends it, and the tenant
 * is then exactly as before or exactly as the archive.
 */
export function killedRestoreSuite(recover: 'diagnose --fix' | 'backup restore'): void {
  describe(`a killed restore ends exactly as before or as the archive, ended by ${recover} (CLI, private mariadbd)`, function () {
    this.timeout(600_000);
    let server: PrivateMariaDb;
    let project: TestProject;
    let ctx: AftyContext;
    let tenant: TenantRecord;
    let archive: Awaited<ReturnType<typeof fingerprint>>;
    const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
    const RESTORE = ['backup', 'restore', '-t', 'shop', '--latest', '--force'];
    const companions = async () =>
      (
        await server.sql(
          `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '${tenant.database}$%'`,
        )
      )
        .split('\n')
        .filter(Boolean);
    const journal = () => path.join(project.dir, 'backups', 'shop', '.restore-journal.json');

    /** The tenant as it is "before" a restore: the archive plus a row and a view it does not have. */
    async function prepareBefore(): Promise<Awaited<ReturnType<typeof fingerprint>>> {
      assert.equal((await cli(RESTORE)).exitCode, 0);
      for (const copy of await companions()) await server.sql(`DROP DATABASE \`${copy}\``);
      return withTenantDb(ctx, tenant, async (db) => {
        await db('authors').insert({ name: 'after the backup' });
        await db.raw('CREATE VIEW newer_view AS SELECT id FROM authors');
        return fingerprint(db);
      });
    }

    before(async () => {
      server = await startPrivateMariaDb();
      project = await createPrivateServerProject(server);
      assert.equal((await cli(['tenant', 'create', 'shop'])).exitCode, 0);
      ctx = await project.context();
      tenant = (await (await ctx.registry()).findTenant('shop'))!;
      await withTenantDb(ctx, tenant, async (db) => {
        await seedTenant(db, 'mysql', 30);
        await db.raw('CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2');
      });
      archive = await withTenantDb(ctx, tenant, fingerprint);
      assert.deepEqual(archive.objects, [
        'function:twice',
        'procedure:count_posts',
        'trigger:posts_slug',
        'view:post_titles',
      ]);
      assert.equal((await cli(['backup', 'create', '-t', 'shop'])).exitCode, 0);
    });
    after(async () => {
      await ctx?.close();
      await server?.stop();
      await project?.cleanup();
    });

    for (const { step, moved } of KILL_POINTS) {
      it(`killed after "${step}", ${recover} leaves it ${moved ? 'as the archive' : 'as before'}`, async () => {
        const before = await prepareBefore();
        assert.notDeepEqual(before, archive);
        const paused = await runUntilPaused(RESTORE, step, { cwd: project.dir, env: project.env });
        paused.child.kill('SIGKILL');
        await paused.ended;
        assert.ok(existsSync(journal()), 'the journal says a restore was cut short');

        const found = await runCli(['diagnose', '--json'], { cwd: project.dir, env: project.env });
        const finding = (
          JSON.parse(found.stdout) as { results: Array<{ id: string; status: string; message: string }> }
        ).results.find((result) => result.id === 'tenants.interrupted-restore')!;
        assert.equal(finding.status, 'fail');
        assert.match(finding.message, /shop \(killed at the (load|swap)/);

        if (recover === 'diagnose --fix') {
          await cli(['diagnose', '--fix']);
          const now = await withTenantDb(ctx, tenant, fingerprint);
          assert.deepEqual(now, moved ? archive : before);
          const left = await companions();
          assert.ok(!left.some((name) => name.includes('$r')), `no scratch database: ${left.join(', ')}`);
          if (moved) {
            assert.equal(left.length, 1, 'the previous data is kept as a safety copy');
            const kept = await withTenantDb(ctx, { ...tenant, database: left[0]! }, fingerprint);
            assert.deepEqual(kept.tables, before.tables);
            assert.deepEqual(kept.objects, before.objects);
          } else {
            assert.deepEqual(left, []);
          }
        } else {
          const again = await cli(RESTORE);
          assert.equal(again.exitCode, 0, again.stderr);
          assert.match(
            again.stderr,
            moved
              ? /finished the interrupted restore of shop/
              : /rolled back the interrupted restore of shop/,
          );
          assert.deepEqual(await withTenantDb(ctx, tenant, fingerprint), archive);
        }
        assert.ok(!existsSync(journal()), 'the journal is gone');
      });
    }
  });
}

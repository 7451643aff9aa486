import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AftyContext } from '../../src/lib/context.js';
import {
  checkSnapshot,
  dumpSnapshot,
  migrateTenant,
  provisioningSteps,
  sourceOf,
  targetOf,
  withScratchDatabase,
  writeSnapshot,
} from '../../src/lib/migrations/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import { createTenant } from '../../src/lib/tenants/index.js';
import { createProject, type TestProject } from '../support/project.js';
import { requireMariaDb, requirePostgres } from '../support/services.js';
import { writeScripts } from './migrations-fixture.js';

/** Bootstrap rows (binary and text, a time), and a trigger created after them that must not fire on load. */
const MIGRATIONS = {
  '001_plans.js': `export async function up(knex) {
  await knex.schema.createTable('plans', (t) => {
    t.increments('id');
    t.string('code', 20).notNullable().unique();
    t.text('notes');
    t.binary('flags', 4);
    t.timestamp('created_at').defaultTo(knex.fn.now());
  });
  await knex('plans').insert([
    { code: 'free', notes: "it's \\\\ 'quoted'", flags: Buffer.from([0, 1, 255, 39]) },
    { code: 'pro', notes: null, flags: null },
  ]);
  await knex.schema.createTable('empty_one', (t) => t.increments('id'));
}
export async function down(knex) {
  await knex.schema.dropTable('empty_one');
  await knex.schema.dropTable('plans');
}
`,
  '002_audit.js': `export async function up(knex) {
  await knex.schema.createTable('audit', (t) => { t.increments('id'); t.string('what', 40); });
  if (knex.client.config.client === 'better-sqlite3') {
    await knex.raw("CREATE TRIGGER plans_audit AFTER INSERT ON plans BEGIN INSERT INTO audit (what) VALUES ('plan ' || NEW.code); END");
  }
  if (knex.client.config.client === 'pg') {
    await knex.raw("CREATE FUNCTION plans_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (what) VALUES ('plan ' || NEW.code); RETURN NEW; END $$");
    await knex.raw('CREATE TRIGGER plans_audit AFTER INSERT ON plans FOR EACH ROW EXECUTE FUNCTION plans_audit()');
  }
}
export async function down(knex) {
  await knex.schema.dropTable('audit');
}
`,
};

for (const driver of ['mariadb', 'postgres', 'postgres-schema', 'sqlite'] as const) {
  describe(`snapshot rows on ${driver}`, function () {
    this.timeout(90_000);
    let project: TestProject;
    let ctx: AftyContext;

    before(async () => {
      if (driver === 'mariadb') await requireMariaDb();
      else if (driver !== 'sqlite') await requirePostgres();
      project = createProject({ driver });
      writeFileSync(path.join(project.dir, 'package.json'), '{ "type": "module" }\n');
      writeScripts(path.join(project.dir, 'migrations/tenant'), MIGRATIONS);
      await project.createCentral();
      ctx = await project.context();
    });
    after(async () => {
      await ctx?.close();
      await project?.cleanup();
    });

    it('a scratch-built snapshot carries the rows the migrations wrote; a tenant provisioned from it has them; --check compares them', async () => {
      const source = sourceOf(ctx);
      const server = ctx.servers.get('default');
      const dump = await withScratchDatabase(ctx, server, async (target) => {
        await migrateTenant(target, source);
        return dumpSnapshot(target, { rows: true });
      });
      assert.deepEqual(dump.meta.rows, { plans: 2 });
      assert.deepEqual(dump.meta.migrations, ['001_plans.js', '002_audit.js']);
      const file = ctx.config.migrations.snapshot;
      writeSnapshot(file, dump.sql);

      let fromSnapshot = 0;
      const tenant = await createTenant(
        ctx,
        { id: 'gamma' },
        {
          extraSteps: provisioningSteps(ctx, {
            onMigrated: (result) => (fromSnapshot = result.fromSnapshot),
          }),
        },
      );
      assert.equal(fromSnapshot, 2);
      const db = await createKnex(targetOf(ctx, tenant).location);
      try {
        const plans = (await db('plans').select('code', 'notes', 'flags').orderBy('id')) as Array<{
          code: string;
          notes: string | null;
          flags: Buffer | null;
        }>;
        assert.deepEqual(
          plans.map((plan) => [plan.code, plan.notes, plan.flags && Buffer.from(plan.flags).toString('hex')]),
          [
            ['free', "it's \\ 'quoted'", '0001ff27'],
            ['pro', null, null],
          ],
        );
        // The trigger came after the rows: loading them wrote no audit row.
        assert.deepEqual(await db('audit').select('what'), []);
        await db('plans').insert({ code: 'team' });
        // Ids continue after the snapshot's rows.
        assert.equal((await db('plans').max({ id: 'id' }))[0]!.id, 3);
      } finally {
        await db.destroy();
      }

      const ok = await checkSnapshot(ctx, server, source, file);
      assert.deepEqual(ok.differences, []);

      writeFileSync(file, readFileSync(file, 'utf8').replace("'pro'", "'max'"));
      const drift = await checkSnapshot(ctx, server, source, file);
      assert.equal(drift.ok, false);
      assert.ok(
        drift.differences.some((line) =>
          /^table plans: row .*"code":"pro".* missing from the snapshot$/.test(line),
        ),
        drift.differences.join('\n'),
      );
      assert.ok(
        drift.differences.some((line) =>
          /^table plans: row .*"code":"max".* only in the snapshot$/.test(line),
        ),
        drift.differences.join('\n'),
      );
    });
  });
}

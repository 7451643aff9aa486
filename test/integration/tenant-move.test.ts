import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { createTenant } from '../../src/lib/tenants/index.js';
import { moveJournalPath, moveTenant, type MoveJournal } from '../../src/lib/tenants/move.js';
import { moveOperations } from '../../src/lib/tenants/move-sql.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import { seedTenant } from './backup-fixture.js';
import { createProject, type TestProject } from '../support/project.js';

/**
 * A failed verify aborts the move with the source untouched (SQLite → SQLite: the engine is not
 * the point here). The copy is altered between load and verify through the progress seam.
 */
describe('tenant move: a copy that does not match the source is never switched to (SQLite)', function () {
  this.timeout(60_000);
  let project: TestProject;
  let ctx: AftyContext;
  let tenant: TenantRecord;

  before(async () => {
    project = createProject({
      driver: 'sqlite',
      config: { servers: { a: 'sqlite:.afty/a', b: 'sqlite:.afty/b' } },
    });
    ctx = await project.context();
    tenant = await createTenant(ctx, { id: 'shop', server: 'a', domains: ['shop.test'] });
    const db = await createKnex(ctx.servers.get('a').tenantLocation(tenant.database));
    try {
      await seedTenant(db, 'sqlite', 40);
    } finally {
      await db.destroy();
    }
  });
  after(async () => {
    await ctx?.close();
    await project?.cleanup();
  });

  /** Runs the move, calling `meddle` (with the journal) just before the verify step. */
  async function moveMeddling(
    meddle: (journal: MoveJournal) => Promise<void>,
    maintenance = true,
  ): Promise<unknown> {
    const file = moveJournalPath(ctx.config.backup.directory, 'shop');
    return moveTenant(
      ctx,
      tenant,
      { to: 'b', maintenance, dropSource: false },
      {
        step: async (name, work) => {
          if (name === 'verify') await meddle(JSON.parse(readFileSync(file, 'utf8')) as MoveJournal);
          return work();
        },
      },
    ).catch((error: unknown) => error);
  }

  async function assertUntouched(before: unknown): Promise<void> {
    const now = (await (await ctx.registry()).findTenant('shop'))!;
    assert.equal(now.server, 'a');
    assert.equal(now.settings.maintenance, undefined, 'maintenance is off again');
    assert.deepEqual(await moveOperations(ctx.servers.get('a')).fingerprint(tenant.database), before);
    assert.deepEqual(await ctx.servers.get('b').listDatabases(''), [], 'nothing is left on the target');
    assert.deepEqual(await ctx.servers.get('a').listDatabases(''), [tenant.database]);
    assert.ok(!existsSync(moveJournalPath(ctx.config.backup.directory, 'shop')));
    const folder = path.join(ctx.config.backup.directory, 'shop');
    assert.deepEqual(existsSync(folder) ? readdirSync(folder) : [], [], 'the dump is removed');
  }

  it('a changed row in the copy: the move fails naming the table, the source is untouched', async () => {
    const before = await moveOperations(ctx.servers.get('a')).fingerprint(tenant.database);
    const error = await moveMeddling(async (journal) => {
      const copy = await createKnex(ctx.servers.get('b').tenantLocation(journal.scratch));
      try {
        await copy('posts').where({ id: 3 }).update({ title: 'tampered' });
      } finally {
        await copy.destroy();
      }
    });
    assert.ok(error instanceof Error);
    assert.match(error.message, /does not match the source: posts checksum differs/);
    await assertUntouched(before);
  });

  it('with --no-maintenance, a write to the source during the move fails it and says to use maintenance', async () => {
    const error = await moveMeddling(async () => {
      const source = await createKnex(ctx.servers.get('a').tenantLocation(tenant.database));
      try {
        await source('authors').insert({ name: 'written meanwhile' });
      } finally {
        await source.destroy();
      }
    }, false);
    assert.ok(error instanceof Error);
    assert.match(error.message, /authors has 3 rows, not 4/);
    assert.match((error as { hint?: string }).hint ?? '', /without --no-maintenance/);
    await assertUntouched(await moveOperations(ctx.servers.get('a')).fingerprint(tenant.database));
  });
  it('a dump that fails before it starts writing ends the move (the load is released, no hang)', async () => {
    const file = (ctx.servers.get('a').tenantLocation(tenant.database) as { filename: string }).filename;
    const before = await moveOperations(ctx.servers.get('a')).fingerprint(tenant.database);
    renameSync(file, `${file}.away`);
    let error: unknown;
    try {
      error = await moveMeddling(async () => {});
    } finally {
      renameSync(`${file}.away`, file);
    }
    assert.ok(error instanceof Error);
    assert.match(error.message, /does not exist/);
    await assertUntouched(before);
  });
});

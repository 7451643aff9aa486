import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runFleet, type FleetEvent } from '../../src/lib/fleet/index.js';
import { migrateRegistered, sourceOf } from '../../src/lib/migrations/index.js';
import { Registry } from '../../src/lib/registry/index.js';
import { createTenant } from '../../src/lib/tenants/index.js';
import { createTableMigration, writeScripts } from './migrations-fixture.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-servers.js';
import { createProject, type TestProject } from '../support/project.js';
import { MARIADB_URL, requireMariaDb } from '../support/services.js';

describe('fleet engine on two real servers (shared MariaDB + a private mariadbd)', function () {
  this.timeout(120_000);
  let second: PrivateMariaDb;
  let project: TestProject;

  before(async () => {
    await requireMariaDb();
    second = await startPrivateMariaDb();
    project = createProject({ driver: 'mariadb' });
    writeFileSync(
      path.join(project.dir, 'afty.config.json'),
      JSON.stringify({ ...project.config, servers: { one: MARIADB_URL, two: second.url } }),
    );
    writeFileSync(path.join(project.dir, 'package.json'), '{ "type": "module" }\n');
    writeScripts(path.join(project.dir, 'migrations/tenant'), {
      '001_a.js': createTableMigration('a'),
      '002_b.js': createTableMigration('b'),
      '003_c.js': createTableMigration('c'),
    });
    const ctx = await project.context();
    try {
      await Registry.createDatabase(ctx.config.central);
      // All of server one's tenants sort before server two's.
      for (const [index, server] of ['one', 'one', 'one', 'one', 'two', 'two', 'two', 'two'].entries()) {
        await createTenant(ctx, { id: `${server}-${index}`, server });
      }
    } finally {
      await ctx.close();
    }
  });
  after(async () => {
    await project?.cleanup();
    await second?.stop();
  });

  it('a per-server cap of 1 with concurrency 4: never two tenants of one server at once, servers interleaved', async () => {
    const ctx = await project.context();
    const running = new Map<string, string>();
    const most = new Map<string, number>();
    const starts: string[] = [];
    const observer = (event: FleetEvent) => {
      if (event.type === 'tenant-started') {
        running.set(event.tenant, event.server);
        starts.push(event.server);
        const here = [...running.values()].filter((server) => server === event.server).length;
        most.set(event.server, Math.max(most.get(event.server) ?? 0, here));
      }
      if (event.type === 'tenant-finished') running.delete(event.result.tenant);
    };
    try {
      const source = sourceOf(ctx);
      const tenants = await (await ctx.registry()).listTenants({});
      const outcome = await runFleet(tenants, (tenant) => migrateRegistered(ctx, tenant, source, {}), {
        concurrency: 4,
        serverLimit: () => 1,
        observer,
      });
      assert.equal(outcome.totals.ok, 8, JSON.stringify(outcome.results.map((result) => result.error)));
      assert.deepEqual(Object.fromEntries(most), { one: 1, two: 1 });
      assert.deepEqual(starts.slice(0, 2).sort(), ['one', 'two'], 'the second server starts at once');
    } finally {
      await ctx.close();
    }
  });
});

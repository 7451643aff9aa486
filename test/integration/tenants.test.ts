import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import type { AftyContext } from '../../src/lib/context.js';
import { grantDatabasePattern } from '../../src/lib/servers/index.js';
import { createTenant, deleteTenant, resolveTenant, tenantLocation } from '../../src/lib/tenants/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import { createProject, type TestProject } from '../support/project.js';
import { mariadbAdmin, requireMariaDb } from '../support/services.js';

/** What a tenant leaves on the server and in the registry; used to prove "nothing left behind". */
async function footprint(ctx: AftyContext, prefix: string) {
  const server = ctx.servers.get(ctx.servers.names[0]!);
  const registry = await ctx.registry();
  const admin = server.driver === 'mysql' ? await mariadbAdmin() : undefined;
  try {
    const users = admin
      ? (
          (await admin.raw('SELECT User AS user FROM mysql.user WHERE User LIKE ? ORDER BY User', [
            `${prefix.replace(/_/g, '\\_')}%`,
          ])) as [Array<{ user: string }>]
        )[0].map((row) => row.user)
      : [];
    return {
      databases: await server.listDatabases(prefix),
      users,
      tenants: (await registry.listTenants()).map((tenant) => tenant.id),
      domains: (await registry.listDomains()).map((domain) => domain.domain),
    };
  } finally {
    await admin?.destroy();
  }
}

for (const driver of ['mariadb', 'sqlite'] as const) {
  describe(`tenant lifecycle on ${driver}`, function () {
    this.timeout(60_000);
    let project: TestProject;
    let ctx: AftyContext;

    before(async () => {
      if (driver === 'mariadb') await requireMariaDb();
      project = createProject({ driver, servers: driver === 'mariadb' ? ['one', 'two'] : undefined });
      ctx = await project.context();
      if (driver === 'mariadb') {
        const { Registry } = await import('../../src/lib/registry/index.js');
        await Registry.createDatabase(ctx.config.central);
      }
    });
    after(async () => {
      await ctx?.close();
      await project?.cleanup();
    });

    it('creates database, user and rows; delete removes all of them', async () => {
      const tenant = await createTenant(ctx, {
        id: 'acme',
        name: 'Acme',
        domains: ['acme.test', 'www.acme.test'],
      });
      const server = ctx.servers.get(tenant.server);
      assert.equal(tenant.database, `${project.prefix}acme`);
      assert.ok(await server.databaseExists(tenant.database), 'await server.databaseExists(tenant.database)');
      assert.equal((await resolveTenant(await ctx.registry(), 'www.acme.test')).id, 'acme');
      if (driver === 'mariadb') {
        assert.equal(tenant.dbUser, `${project.prefix}acme`);
        assert.ok(tenant.dbPassword?.startsWith('v1:'), 'password stored encrypted');
        assert.ok(await server.userExists(tenant.dbUser!), 'await server.userExists(tenant.dbUser!)');
      } else {
        assert.equal(tenant.dbUser, null);
      }
      const result = await deleteTenant(ctx, tenant);
      assert.deepEqual(result, {
        databaseDropped: true,
        userDropped: driver === 'mariadb',
        safetyCopies: [],
        cacheKeys: 0,
      });
      assert.deepEqual(await footprint(ctx, project.prefix), {
        databases: [],
        users: [],
        tenants: [],
        domains: [],
      });
    });

    it('keeps the database with keepDatabase', async () => {
      const tenant = await createTenant(ctx, { id: 'keeper' });
      await deleteTenant(ctx, tenant, { keepDatabase: true });
      const left = await footprint(ctx, project.prefix);
      assert.deepEqual(left.databases, [tenant.database]);
      assert.deepEqual(left.tenants, []);
      await ctx.servers.get(tenant.server).dropDatabase(tenant.database);
    });

    const steps =
      driver === 'mariadb'
        ? ['registry', 'database', 'user', 'noop', 'activate']
        : ['registry', 'database', 'noop', 'activate'];
    for (const failingStep of steps) {
      it(`leaves nothing behind when create fails after the "${failingStep}" step`, async () => {
        const before = await footprint(ctx, project.prefix);
        await assert.rejects(
          createTenant(
            ctx,
            { id: 'faulty', domains: ['faulty.test'] },
            {
              afterStep: (step) => {
                if (step === failingStep) throw new Error(`injected fault after ${step}`);
              },
              extraSteps: () => [{ name: 'noop', run: async () => {} }],
            },
          ),
          new RegExp(`injected fault after ${failingStep}`),
        );
        assert.deepEqual(await footprint(ctx, project.prefix), before);
      });
    }

    it('undoes everything when a real step fails (domain already taken → unique violation is caught first)', async () => {
      await createTenant(ctx, { id: 'owner', domains: ['taken.test'] });
      const before = await footprint(ctx, project.prefix);
      await assert.rejects(
        createTenant(ctx, { id: 'thief', domains: ['taken.test'] }),
        /already belongs to tenant owner/,
      );
      await assert.rejects(createTenant(ctx, { id: 'owner' }), /tenant owner already exists/);
      assert.deepEqual(await footprint(ctx, project.prefix), before);
    });

    it('refuses to adopt an existing database with the tenant name', async () => {
      const server = ctx.servers.get(ctx.servers.names[0]!);
      await server.createDatabase(`${project.prefix}squatter`);
      try {
        await assert.rejects(
          createTenant(ctx, { id: 'squatter', server: server.name }),
          /already exists on server/,
        );
        assert.equal(await (await ctx.registry()).findTenant('squatter'), undefined);
      } finally {
        await server.dropDatabase(`${project.prefix}squatter`);
      }
    });

    if (driver === 'mariadb') {
      it('grants the tenant user its own database only (SHOW GRANTS) and it connects with its own credentials', async () => {
        const tenant = await createTenant(ctx, { id: 'granted' });
        const admin = await mariadbAdmin();
        let own: Knex | undefined;
        try {
          const [rows] = (await admin.raw('SHOW GRANTS FOR ?@?', [tenant.dbUser, '%'])) as [
            Array<Record<string, string>>,
          ];
          const grants = rows.map((row) => Object.values(row)[0]!);
          assert.equal(grants.length, 2);
          assert.match(grants[0]!, /^GRANT USAGE ON \*\.\* TO/);
          assert.equal(
            grants[1],
            `GRANT ALL PRIVILEGES ON \`${grantDatabasePattern(tenant.database)}\`.* TO \`${tenant.dbUser}\`@\`%\``,
          );
          own = await createKnex(tenantLocation(ctx, tenant));
          await own.raw('CREATE TABLE probe (id int)');
          await assert.rejects(own.raw('CREATE DATABASE ??', [`${project.prefix}intruder`]), /denied/);
        } finally {
          await own?.destroy();
          await admin.destroy();
        }
      });

      it('places new tenants on the server with the fewest tenants, or on --server', async () => {
        const registry = await ctx.registry();
        const counts = await registry.countTenantsByServer();
        const lighter = (counts.get('one') ?? 0) <= (counts.get('two') ?? 0) ? 'one' : 'two';
        const placed = await createTenant(ctx, { id: 'placed' });
        assert.equal(placed.server, lighter);
        const pinned = await createTenant(ctx, { id: 'pinned', server: 'one' });
        assert.equal(pinned.server, 'one');
        await assert.rejects(
          createTenant(ctx, { id: 'nowhere', server: 'mars' }),
          /unknown server "mars": configured servers are one, two/,
        );
      });

      it('exits 2 without AFTY_SECRET before touching anything', async () => {
        const before = await footprint(ctx, project.prefix);
        const secret = ctx.config.secret;
        ctx.config.secret = undefined;
        try {
          await assert.rejects(
            createTenant(ctx, { id: 'nosecret' }),
            (error: Error & { exitCode?: number }) =>
              error.exitCode === 2 && /AFTY_SECRET/.test(error.message),
          );
        } finally {
          ctx.config.secret = secret;
        }
        assert.deepEqual(await footprint(ctx, project.prefix), before);
      });
    }
  });
}

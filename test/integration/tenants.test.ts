import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import type { AftyContext } from '../../src/lib/context.js';
import { grantDatabasePattern } from '../../src/lib/servers/index.js';
import { createTenant, deleteTenant, resolveTenant, tenantLocation } from '../../src/lib/tenants/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import type { NetworkLocation } from '../../src/lib/servers/index.js';
import { createProject, type TestProject } from '../support/project.js';
import { mariadbAdmin, postgresAdmin, requireMariaDb, requirePostgres } from '../support/services.js';

/** Database users (MySQL) or roles (PostgreSQL) whose names start with `prefix`. */
async function usersWithPrefix(driver: string, prefix: string): Promise<string[]> {
  const like = `${prefix.replace(/_/g, '\\_')}%`;
  if (driver === 'mysql') {
    const admin = await mariadbAdmin();
    try {
      const [rows] = (await admin.raw('SELECT User AS user FROM mysql.user WHERE User LIKE ? ORDER BY User', [
        like,
      ])) as [Array<{ user: string }>];
      return rows.map((row) => row.user);
    } finally {
      await admin.destroy();
    }
  }
  if (driver === 'postgres') {
    const admin = await postgresAdmin();
    try {
      const { rows } = (await admin.raw(
        'SELECT rolname AS user FROM pg_roles WHERE rolname LIKE ? ORDER BY 1',
        [like],
      )) as { rows: Array<{ user: string }> };
      return rows.map((row) => row.user);
    } finally {
      await admin.destroy();
    }
  }
  return [];
}

/** What a tenant leaves on the server and in the registry; used to prove "nothing left behind". */
async function footprint(ctx: AftyContext, prefix: string) {
  const server = ctx.servers.get(ctx.servers.names[0]!);
  const registry = await ctx.registry();
  return {
    databases: await server.listDatabases(prefix),
    users: await usersWithPrefix(server.driver, prefix),
    tenants: (await registry.listTenants()).map((tenant) => tenant.id),
    domains: (await registry.listDomains()).map((domain) => domain.domain),
  };
}

for (const driver of ['mariadb', 'postgres', 'postgres-schema', 'sqlite'] as const) {
  const withUsers = driver !== 'sqlite';
  describe(`tenant lifecycle on ${driver}`, function () {
    this.timeout(60_000);
    let project: TestProject;
    let ctx: AftyContext;

    before(async () => {
      if (driver === 'mariadb') await requireMariaDb();
      else if (driver !== 'sqlite') await requirePostgres();
      project = createProject({ driver, servers: withUsers ? ['one', 'two'] : undefined });
      await project.createCentral();
      ctx = await project.context();
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
      if (withUsers) {
        assert.equal(tenant.dbUser, `${project.prefix}acme`);
        assert.ok(tenant.dbPassword?.startsWith('v1:'), 'password stored encrypted');
        assert.ok(await server.userExists(tenant.dbUser!), 'await server.userExists(tenant.dbUser!)');
      } else {
        assert.equal(tenant.dbUser, null);
      }
      const result = await deleteTenant(ctx, tenant);
      assert.deepEqual(result, {
        databaseDropped: true,
        userDropped: withUsers,
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

    const steps = withUsers
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

    if (driver === 'postgres' || driver === 'postgres-schema') {
      it('gives the tenant role its own database (or schema) only: it cannot connect to or read another tenant, PUBLIC has no access', async () => {
        const [one, two] = [
          await createTenant(ctx, { id: 'pgone' }),
          await createTenant(ctx, { id: 'pgtwo' }),
        ];
        const mine = tenantLocation(ctx, one) as NetworkLocation;
        const theirs = tenantLocation(ctx, two) as NetworkLocation;
        const own = await createKnex(mine);
        const admin = await postgresAdmin(theirs.connection.database);
        try {
          await own.raw('CREATE TABLE probe (id int)');
          await own.raw('INSERT INTO probe VALUES (1)');
          const { rows: roles } = (await admin.raw(
            'SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = ?',
            [one.dbUser],
          )) as { rows: Array<Record<string, boolean>> };
          assert.deepEqual(roles, [{ rolsuper: false, rolcreaterole: false, rolcreatedb: false }]);
          if (driver === 'postgres') {
            // one's role against two's database: refused at connect.
            const intruder = await createKnex({
              ...theirs,
              connection: {
                ...theirs.connection,
                user: mine.connection.user,
                password: mine.connection.password,
              },
            });
            try {
              await assert.rejects(
                intruder.raw('SELECT 1'),
                /permission denied for database|not have CONNECT privilege/,
              );
            } finally {
              await intruder.destroy();
            }
            const { rows } = (await admin.raw(
              "SELECT has_database_privilege('public', ?, 'CONNECT') AS public",
              [two.database],
            )) as { rows: Array<{ public: boolean }> };
            assert.equal(rows[0]!.public, false, 'PUBLIC may not connect to a tenant database');
          } else {
            await assert.rejects(
              own.raw(`SELECT * FROM "${two.database}".knex_migrations`),
              /permission denied for schema/,
            );
            const { rows } = (await own.raw('SELECT current_schema() AS schema')) as {
              rows: Array<{ schema: string }>;
            };
            assert.equal(rows[0]!.schema, one.database);
            // The role's own default too, for clients that set no search_path (psql, an application).
            const { rows: settings } = (await admin.raw(
              'SELECT unnest(setconfig) AS setting FROM pg_db_role_setting WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = ?)',
              [one.dbUser],
            )) as { rows: Array<{ setting: string }> };
            assert.deepEqual(
              settings.map((row) => row.setting),
              [`search_path=${one.database}`],
            );
          }
          await assert.rejects(own.raw(`CREATE DATABASE "${project.prefix}intruder"`), /permission denied/);
        } finally {
          await own.destroy();
          await admin.destroy();
        }
      });
    }

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

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';
import { mariadbAdmin, requireMariaDb } from '../support/services.js';

interface Tenant {
  id: string;
  name: string;
  status: string;
  database: string;
  dbUser: string | null;
  primaryDomain: string | null;
  domains: Array<{ domain: string; primary: boolean }>;
}

type Row = Record<string, unknown>;

/** A SQLite project whose central database already holds an application's tables. */
async function sqliteProject(registry: Record<string, unknown>, tables: (db: Knex) => Promise<void>) {
  const project = createProject({ driver: 'sqlite' });
  const config = { ...project.config, registry };
  writeFileSync(path.join(project.dir, 'afty.config.json'), JSON.stringify(config, null, 2));
  mkdirSync(path.join(project.dir, '.afty'), { recursive: true });
  const central = knex({
    client: 'better-sqlite3',
    connection: { filename: path.join(project.dir, '.afty/central.sqlite') },
    useNullAsDefault: true,
  });
  await tables(central);
  return { project, central };
}

describe('registry.kind stancl without ArtFlow columns (CLI, SQLite)', function () {
  this.timeout(60_000);
  let project: TestProject;
  let central: Knex;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });

  before(async () => {
    ({ project, central } = await sqliteProject({ kind: 'stancl' }, async (db) => {
      // stancl's migrations as Laravel's SQLite grammar compiles them.
      await db.raw(
        'create table "tenants" ("id" varchar not null, "created_at" datetime, "updated_at" datetime, "data" text, primary key ("id"))',
      );
      await db.raw(
        'create table "domains" ("id" integer primary key autoincrement not null, "domain" varchar not null, "tenant_id" varchar not null, "created_at" datetime, "updated_at" datetime, foreign key("tenant_id") references "tenants"("id") on update cascade)',
      );
      await db.raw('create unique index "domains_domain_unique" on "domains" ("domain")');
      // An integer id, as stancl's IncrementingIds (or a custom generator) gives.
      await db('tenants').insert({
        id: '42',
        data: '{"tenancy_db_name":"shop42","plan":"gold"}',
        created_at: '2024-01-01 10:00:00',
        updated_at: '2024-01-01 10:00:00',
      });
      await db('domains').insert({ domain: 'shop42.test', tenant_id: '42' });
    }));
  });
  after(async () => {
    await central?.destroy();
    await project?.cleanup();
  });

  it('reads integer ids and tenancy_db_name; afty fields without a column live in afty_tenant_state', async () => {
    const show = await json<Tenant>(['tenant', 'show', '42']);
    assert.equal(show.exitCode, 0, show.stderr);
    assert.equal(show.json.database, 'shop42');
    assert.equal(show.json.name, '42');
    assert.equal(show.json.status, 'active');
    assert.equal(show.json.primaryDomain, 'shop42.test');

    const created = await json<Tenant>(['tenant', 'create', 'acme', '--name', 'Acme', '-d', 'acme.test']);
    assert.equal(created.exitCode, 0, created.stderr);
    // stancl's default naming: tenancy.database.prefix "tenant" + id + suffix "".
    assert.equal(created.json.database, 'tenantacme');
    const row = (await central('tenants').where({ id: 'acme' }).first()) as Row;
    assert.equal(row.data, '{"tenancy_db_name":"tenantacme"}');
    assert.match(String(row.created_at), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const state = (await central('afty_tenant_state').where({ tenant_id: 'acme' }).first()) as Row;
    assert.equal(state.name, 'Acme');
    assert.equal(state.server, 'default');

    const suspended = await cli(['tenant', 'suspend', 'acme', '--reason', 'unpaid']);
    assert.equal(suspended.exitCode, 0, suspended.stderr);
    const after = (await central('tenants').where({ id: 'acme' }).first()) as Row;
    assert.deepEqual(after, row, "the Laravel row does not change: stancl's tables have no status column");
    const list = await json<{ tenants: Tenant[] }>(['tenant', 'list', '--status', 'suspended']);
    assert.deepEqual(
      list.json.tenants.map((tenant) => [tenant.id, tenant.name]),
      [['acme', 'Acme']],
    );
  });

  it('without domains.is_primary the oldest domain is primary; asking for another primary is a clear error', async () => {
    const added = await cli(['tenant', 'domain', 'add', 'acme', 'www.acme.test']);
    assert.equal(added.exitCode, 0, added.stderr);
    const before = await central('domains').orderBy('id');
    const primary = await cli(['tenant', 'domain', 'add', 'acme', 'shop.acme.test', '--primary']);
    assert.equal(primary.exitCode, 2);
    assert.match(primary.stderr, /the domains table has no primary-domain column/);
    assert.deepEqual(await central('domains').orderBy('id'), before);
    const show = await json<Tenant>(['tenant', 'show', 'acme']);
    assert.equal(show.json.primaryDomain, 'acme.test');
  });

  it('tenant create without an id: refused unless the registry generates ids (idGenerator uuid)', async () => {
    const before = await central('tenants').orderBy('id');
    const refused = await cli(['tenant', 'create', '--name', 'Nameless']);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /give the new tenant an id/);
    assert.deepEqual(await central('tenants').orderBy('id'), before);

    const file = path.join(project.dir, 'afty.config.json');
    writeFileSync(
      file,
      JSON.stringify({ ...project.config, registry: { kind: 'stancl', stancl: { idGenerator: 'uuid' } } }),
    );
    try {
      const created = await json<Tenant>(['tenant', 'create', '--name', 'Generated']);
      assert.equal(created.exitCode, 0, created.stderr);
      assert.match(created.json.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(created.json.database, `tenant${created.json.id}`);
      const row = (await central('tenants').where({ id: created.json.id }).first()) as Row;
      assert.equal(row.data, `{"tenancy_db_name":"tenant${created.json.id}"}`);
      const deleted = await cli(['tenant', 'delete', created.json.id, '--force', '--no-backup']);
      assert.equal(deleted.exitCode, 0, deleted.stderr);
    } finally {
      writeFileSync(file, JSON.stringify({ ...project.config, registry: { kind: 'stancl' } }));
    }
  });

  it('tenant move switches the server in afty_tenant_state; the Laravel row does not change', async () => {
    const file = path.join(project.dir, 'afty.config.json');
    const servers = { default: 'sqlite:.afty/tenants', other: 'sqlite:.afty/other' };
    writeFileSync(file, JSON.stringify({ ...project.config, servers, registry: { kind: 'stancl' } }));
    try {
      const row = (await central('tenants').where({ id: 'acme' }).first()) as Row;
      const moved = await json<{ tenants: Array<{ status: string; to: string }> }>([
        'tenant',
        'move',
        'acme',
        '--to',
        'other',
      ]);
      assert.equal(moved.exitCode, 0, moved.stderr);
      assert.equal(moved.json.tenants[0]!.status, 'ok');
      const state = (await central('afty_tenant_state').where({ tenant_id: 'acme' }).first()) as Row;
      assert.equal(state.server, 'other');
      assert.deepEqual(await central('tenants').where({ id: 'acme' }).first(), row);
      const back = await cli(['tenant', 'move', 'acme', '--to', 'default', '--drop-source', '--force']);
      assert.equal(back.exitCode, 0, back.stderr);
    } finally {
      writeFileSync(file, JSON.stringify({ ...project.config, registry: { kind: 'stancl' } }));
    }
  });

  it('tenant delete removes the stancl rows and the afty state', async () => {
    const deleted = await cli(['tenant', 'delete', 'acme', '--force', '--no-backup']);
    assert.equal(deleted.exitCode, 0, deleted.stderr);
    assert.equal((await central('tenants').where({ id: 'acme' })).length, 0);
    assert.equal((await central('domains').where({ tenant_id: 'acme' })).length, 0);
    assert.equal((await central('afty_tenant_state').where({ tenant_id: 'acme' })).length, 0);
    assert.equal((await central('tenants').where({ id: '42' })).length, 1);
  });
});

describe('registry.kind mapping: a home-grown registry (CLI, SQLite)', function () {
  this.timeout(60_000);
  let project: TestProject;
  let central: Knex;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  const mapping = {
    table: 'customers',
    id: 'slug',
    database: 'db_name',
    name: 'title',
    status: 'state',
    domains: { table: 'customer_hosts', domain: 'host', tenant: 'customer_slug', primary: 'main' },
  };

  before(async () => {
    ({ project, central } = await sqliteProject({ kind: 'mapping', mapping }, async (db) => {
      await db.schema.createTable('customers', (table) => {
        table.string('slug').primary();
        table.string('title');
        table.string('db_name').notNullable();
        table.string('state').notNullable().defaultTo('active');
        table.string('billing_email');
      });
      await db.schema.createTable('customer_hosts', (table) => {
        table.string('host').primary();
        table.string('customer_slug').notNullable();
        table.boolean('main').notNullable().defaultTo(false);
      });
      await db('customers').insert({
        slug: 'legacy',
        title: 'Legacy Ltd',
        db_name: 'legacy_db',
        state: 'blocked',
      });
      await db('customer_hosts').insert({ host: 'legacy.test', customer_slug: 'legacy', main: true });
    }));
  });
  after(async () => {
    await central?.destroy();
    await project?.cleanup();
  });

  it('lists, creates into and deletes from the mapped columns', async () => {
    const show = await json<Tenant>(['tenant', 'show', 'legacy.test']);
    assert.equal(show.exitCode, 0, show.stderr);
    assert.deepEqual(
      [show.json.id, show.json.name, show.json.status, show.json.database],
      ['legacy', 'Legacy Ltd', 'blocked', 'legacy_db'],
    );
    const created = await json<Tenant>(['tenant', 'create', 'newco', '--name', 'New Co', '-d', 'newco.test']);
    assert.equal(created.exitCode, 0, created.stderr);
    assert.deepEqual(await central('customers').where({ slug: 'newco' }).first(), {
      slug: 'newco',
      title: 'New Co',
      db_name: `${project.prefix}newco`,
      state: 'active',
      billing_email: null,
    });
    assert.deepEqual(await central('customer_hosts').where({ customer_slug: 'newco' }), [
      { host: 'newco.test', customer_slug: 'newco', main: 1 },
    ]);
    const list = await json<{ tenants: Tenant[] }>([
      'tenant',
      'list',
      '--status',
      'active',
      '--status',
      'blocked',
    ]);
    assert.deepEqual(
      list.json.tenants.map((tenant) => tenant.id),
      ['legacy', 'newco'],
    );
    const deleted = await cli(['tenant', 'delete', 'newco', '--force', '--no-backup']);
    assert.equal(deleted.exitCode, 0, deleted.stderr);
    assert.equal((await central('customers').where({ slug: 'newco' })).length, 0);
    assert.equal((await central('customer_hosts').where({ customer_slug: 'newco' })).length, 0);
  });

  it('a mapping that names a missing column is a config error naming it', async () => {
    const broken = {
      ...project.config,
      registry: { kind: 'mapping', mapping: { ...mapping, status: 'phase' } },
    };
    writeFileSync(path.join(project.dir, 'afty.config.json'), JSON.stringify(broken));
    try {
      const result = await cli(['tenant', 'list']);
      assert.equal(result.exitCode, 2, result.stderr);
      assert.match(result.stderr, /registry\.mapping\.status: the customers table has no column phase/);
    } finally {
      writeFileSync(
        path.join(project.dir, 'afty.config.json'),
        JSON.stringify({ ...project.config, registry: { kind: 'mapping', mapping } }),
      );
    }
  });
});

describe('tenant adopt and tenant create --database (CLI, MariaDB, afty registry)', function () {
  this.timeout(120_000);
  let project: TestProject;
  let admin: Knex;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  const ids = async () =>
    (await json<{ tenants: Tenant[] }>(['tenant', 'list', '--status', 'active'])).json.tenants.map(
      (tenant) => tenant.id,
    );
  const users = async () => {
    const [rows] = (await admin.raw('SELECT User AS user FROM mysql.user WHERE User LIKE ? ORDER BY User', [
      `${project.prefix.replace(/_/g, '\\_')}%`,
    ])) as [Array<{ user: string }>];
    return rows.map((row) => row.user);
  };

  before(async () => {
    await requireMariaDb();
    project = createProject({ driver: 'mariadb' });
    await project.createCentral();
    admin = await mariadbAdmin();
  });
  after(async () => {
    await admin?.destroy();
    await project?.cleanup();
  });

  it('adopts an existing database with its own user, leaving its data as it was', async () => {
    const database = `${project.prefix}legacy_shop`;
    await admin.raw('CREATE DATABASE ??', [database]);
    await admin.raw('CREATE TABLE ??.orders (id int primary key, total int)', [database]);
    await admin.raw('INSERT INTO ??.orders VALUES (1, 250), (2, 99)', [database]);
    const adopted = await json<Tenant>(['tenant', 'adopt', database, '--create-user']);
    assert.equal(adopted.exitCode, 0, adopted.stderr);
    assert.equal(adopted.json.id, 'legacy-shop');
    assert.equal(adopted.json.database, database);
    assert.equal(adopted.json.dbUser, database);
    const [orders] = (await admin.raw('SELECT id, total FROM ??.orders ORDER BY id', [database])) as [Row[]];
    assert.deepEqual(orders, [
      { id: 1, total: 250 },
      { id: 2, total: 99 },
    ]);
    // The tenant's work runs as the new user, which reads the adopted data.
    const run = await cli([
      'tenant',
      'run',
      '-t',
      'legacy-shop',
      '--',
      'node',
      '-e',
      'console.log(process.env.DB_USERNAME)',
    ]);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(run.stdout, new RegExp(database));
    const status = await cli(['db', 'status', '-t', 'legacy-shop']);
    assert.equal(status.exitCode, 0, status.stderr);
  });

  it('refuses an absent database, a registered one, a taken id and bad names; nothing changes', async () => {
    const before = { tenants: await ids(), users: await users() };
    const cases: Array<{ args: string[]; error: RegExp }> = [
      {
        args: ['tenant', 'adopt', `${project.prefix}nowhere`],
        error: /database \S+nowhere does not exist on any configured server/,
      },
      {
        args: ['tenant', 'adopt', `${project.prefix}legacy_shop`, '--id', 'again'],
        error: /database \S+legacy_shop on server "default" is already tenant legacy-shop/,
      },
      { args: ['tenant', 'adopt', 'bad;name'], error: /invalid database name "bad;name"/ },
      {
        args: ['tenant', 'adopt', `${project.prefix}legacy_shop`, '--server', 'nope'],
        error: /unknown server "nope"/,
      },
    ];
    const other = `${project.prefix}other_db`;
    await admin.raw('CREATE DATABASE ??', [other]);
    cases.push(
      { args: ['tenant', 'adopt', other, '--id', 'legacy-shop'], error: /tenant legacy-shop already exists/ },
      { args: ['tenant', 'adopt', other, '--id', "it's"], error: /invalid tenant id "it's"/ },
      {
        args: ['tenant', 'adopt', 'information_schema'],
        error: /cannot tell a tenant id from the database name/,
      },
    );
    for (const { args, error } of cases) {
      const result = await cli(args);
      assert.equal(result.exitCode, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, error);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
    assert.deepEqual({ tenants: await ids(), users: await users() }, before);
  });

  it('tenant create --database gives the tenant a custom database name; a bad or taken one is refused', async () => {
    const database = `${project.prefix}custom_gamma`;
    const created = await json<Tenant>(['tenant', 'create', 'gamma', '--database', database]);
    assert.equal(created.exitCode, 0, created.stderr);
    assert.equal(created.json.database, database);
    const [rows] = (await admin.raw(
      'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name = ?',
      [database],
    )) as [Row[]];
    assert.equal(rows.length, 1);
    const before = await ids();
    const bad = await cli(['tenant', 'create', 'delta', '--database', 'x`y']);
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /invalid --database "x`y"/);
    const taken = await cli(['tenant', 'create', 'delta', '--database', database]);
    assert.equal(taken.exitCode, 2);
    assert.match(taken.stderr, /already belongs to tenant gamma/);
    assert.deepEqual(await ids(), before);
  });
});

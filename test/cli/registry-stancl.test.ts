import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import type { CheckReport } from '../../src/lib/checks/types.js';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';
import { MARIADB_URL, mariadbAdmin, requireMariaDb } from '../support/services.js';

/**
 * stancl/tenancy's central migrations (assets/migrations: create_tenants_table,
 * create_domains_table) as Laravel's MySQL grammar compiles them, with the custom columns
 * ArtFlow's package adds (name, status, database_name, notes, settings; domains.is_primary).
 */
async function createStanclTables(db: Knex): Promise<void> {
  await db.raw(
    "create table `tenants` (`id` varchar(255) not null, `name` varchar(255) null, `status` varchar(255) not null default 'active', `database_name` varchar(255) null, `notes` text null, `settings` json null, `created_at` timestamp null, `updated_at` timestamp null, `data` json null) default character set utf8mb4 collate 'utf8mb4_unicode_ci'",
  );
  await db.raw('alter table `tenants` add primary key (`id`)');
  await db.raw(
    "create table `domains` (`id` int unsigned not null auto_increment primary key, `domain` varchar(255) not null, `tenant_id` varchar(255) not null, `is_primary` tinyint(1) not null default '0', `created_at` timestamp null, `updated_at` timestamp null) default character set utf8mb4 collate 'utf8mb4_unicode_ci'",
  );
  await db.raw('alter table `domains` add unique `domains_domain_unique`(`domain`)');
  await db.raw(
    'alter table `domains` add constraint `domains_tenant_id_foreign` foreign key (`tenant_id`) references `tenants` (`id`) on update cascade',
  );
}

const MIGRATION = `export async function up(knex) {
  await knex.schema.createTable('notes', (t) => {
    t.increments('id');
    t.string('body', 100);
  });
}
export async function down(knex) {
  await knex.schema.dropTable('notes');
}
`;

interface Tenant {
  id: string;
  name: string;
  status: string;
  database: string;
  dbUser: string | null;
  primaryDomain: string | null;
  domains: Array<{ domain: string; primary: boolean }>;
  settings: Record<string, unknown>;
}

type Row = Record<string, unknown>;

const LARAVEL_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

describe('registry.kind stancl: a Laravel stancl/tenancy central database with ArtFlow columns (CLI, MariaDB)', function () {
  this.timeout(180_000);
  let project: TestProject;
  let central: Knex;
  let admin: Knex;
  // Tenants the Laravel app created: UUID ids, database names three ways.
  const plain = randomUUID();
  const named = randomUUID();
  const withUser = randomUUID();
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  const tenantRows = async () => (await central('tenants').orderBy('id')) as Row[];
  const domainRows = async () => (await central('domains').orderBy('domain')) as Row[];

  before(async () => {
    await requireMariaDb();
    project = createProject({ driver: 'mariadb' });
    const prefix = project.prefix;
    const config = {
      ...project.config,
      registry: { kind: 'stancl', stancl: { databasePrefix: prefix } },
    };
    writeFileSync(path.join(project.dir, 'afty.config.json'), JSON.stringify(config, null, 2));
    const migrations = path.join(project.dir, 'migrations/tenant');
    mkdirSync(migrations, { recursive: true });
    writeFileSync(path.join(migrations, '001_notes.mjs'), MIGRATION);
    await project.createCentral();
    // Rows exactly as stored: JSON and timestamps as text.
    central = knex({
      client: 'mysql2',
      connection: {
        ...mysqlHost(),
        user: 'root',
        database: `afty_central_${project.token}`,
        dateStrings: true,
        jsonStrings: true,
      } as Knex.StaticConnectionConfig,
      pool: { min: 0, max: 2 },
    });
    admin = await mariadbAdmin();
    await createStanclTables(central);
    const at = '2024-01-01 10:00:00';
    const databases = {
      [plain]: `${prefix}${plain}`,
      [named]: `${prefix}named_two`,
      [withUser]: `${prefix}artflow_three`,
    };
    await central('tenants').insert([
      // stancl without tenancy_db_name: prefix + id + suffix.
      { id: plain, name: 'Plain Co', status: 'active', data: null, created_at: at, updated_at: at },
      {
        id: named,
        name: 'Named Co',
        status: 'suspended',
        data: JSON.stringify({ tenancy_db_name: databases[named], plan: 'pro' }),
        created_at: at,
        updated_at: at,
      },
      {
        id: withUser,
        name: 'Three Co',
        status: 'active',
        database_name: databases[withUser],
        settings: JSON.stringify({ timezone: 'UTC' }),
        data: JSON.stringify({
          tenancy_db_name: databases[withUser],
          tenancy_db_username: `${prefix}three`,
          tenancy_db_password: 'pw-three-123',
        }),
        created_at: at,
        updated_at: at,
      },
    ]);
    await central('domains').insert([
      { domain: 'plain.test', tenant_id: plain, is_primary: 1, created_at: at, updated_at: at },
      { domain: 'named.test', tenant_id: named, is_primary: 1, created_at: at, updated_at: at },
      { domain: 'www.named.test', tenant_id: named, is_primary: 0, created_at: at, updated_at: at },
    ]);
    // As stancl's MySQLDatabaseManager creates them, with the connection's charset and collation.
    for (const database of Object.values(databases)) {
      await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [database]);
    }
    await admin.raw("CREATE USER ??@'%' IDENTIFIED BY 'pw-three-123'", [`${prefix}three`]);
    await admin.raw("GRANT ALL PRIVILEGES ON ??.* TO ??@'%'", [databases[withUser], `${prefix}three`]);
  });
  after(async () => {
    await central?.destroy();
    await admin?.destroy();
    await project?.cleanup();
  });

  it('tenant list and show read the Laravel rows: UUID ids, database names from the column, data or prefix + id', async () => {
    const list = await json<{ tenants: Tenant[] }>([
      'tenant',
      'list',
      '--status',
      'active',
      '--status',
      'suspended',
    ]);
    assert.equal(list.exitCode, 0, list.stderr);
    const byId = new Map(list.json.tenants.map((tenant) => [tenant.id, tenant]));
    assert.equal(byId.size, 3);
    assert.equal(byId.get(plain)!.database, `${project.prefix}${plain}`);
    assert.equal(byId.get(plain)!.name, 'Plain Co');
    assert.equal(byId.get(named)!.database, `${project.prefix}named_two`);
    assert.equal(byId.get(named)!.status, 'suspended');
    assert.equal(byId.get(withUser)!.database, `${project.prefix}artflow_three`);
    assert.equal(byId.get(withUser)!.dbUser, `${project.prefix}three`);
    assert.deepEqual(byId.get(withUser)!.settings, { timezone: 'UTC' });

    const show = await json<Tenant>(['tenant', 'show', named]);
    assert.equal(show.exitCode, 0, show.stderr);
    assert.equal(show.json.primaryDomain, 'named.test');
    assert.deepEqual(
      show.json.domains.map((domain) => domain.domain),
      ['named.test', 'www.named.test'],
    );
    const byDomain = await json<Tenant>(['tenant', 'show', 'plain.test']);
    assert.equal(byDomain.json.id, plain);
    const search = await json<{ tenants: Tenant[] }>([
      'tenant',
      'list',
      '--search',
      'www.named',
      '--status',
      'suspended',
    ]);
    assert.deepEqual(
      search.json.tenants.map((tenant) => tenant.id),
      [named],
    );
  });

  it('tenant create writes the rows Laravel writes: data JSON as json_encode makes it, Laravel timestamps, ArtFlow columns, domains', async () => {
    const created = await json<Tenant>(['tenant', 'create', 'acme', '--name', 'Acme/Ünï', '-d', 'acme.test']);
    assert.equal(created.exitCode, 0, created.stderr);
    const database = `${project.prefix}acme`;
    assert.equal(created.json.database, database);
    const row = (await tenantRows()).find((tenant) => tenant.id === 'acme')!;
    const user = created.json.dbUser!;
    assert.ok(user, 'tenantUsers gives the tenant a user');
    const data = JSON.parse(String(row.data)) as Record<string, string>;
    assert.deepEqual(Object.keys(data), ['tenancy_db_name', 'tenancy_db_username', 'tenancy_db_password']);
    assert.equal(data.tenancy_db_name, database);
    assert.equal(data.tenancy_db_username, user);
    // Stored as Laravel reads it (plain), and it logs in.
    assert.match(data.tenancy_db_password!, /^[A-Za-z0-9_-]{32}$/);
    assert.equal(
      String(row.data),
      `{"tenancy_db_name":"${database}","tenancy_db_username":"${user}","tenancy_db_password":"${data.tenancy_db_password}"}`,
    );
    assert.equal(row.name, 'Acme/Ünï');
    assert.equal(row.status, 'active');
    assert.equal(row.database_name, database);
    assert.equal(row.settings, '{}');
    assert.match(String(row.created_at), LARAVEL_TIME);
    // Like stancl's CreateDatabase job, the final save (status active) may move updated_at.
    assert.match(String(row.updated_at), LARAVEL_TIME);
    assert.ok(String(row.updated_at) >= String(row.created_at));
    const domain = (await domainRows()).find((entry) => entry.domain === 'acme.test')!;
    assert.equal(domain.tenant_id, 'acme');
    assert.equal(Number(domain.is_primary), 1);
    assert.match(String(domain.created_at), LARAVEL_TIME);
    const login = knex({
      client: 'mysql2',
      connection: { ...mysqlHost(), user, password: data.tenancy_db_password, database },
    });
    try {
      await login.raw('SELECT 1');
    } finally {
      await login.destroy();
    }

    // A name with a slash and non-ASCII goes through json_encode's escapes in JSON columns.
    const updated = await cli(['tenant', 'update', 'acme', '--set', 'billing.plan=pro/yearly']);
    assert.equal(updated.exitCode, 0, updated.stderr);
    const after = (await tenantRows()).find((tenant) => tenant.id === 'acme')!;
    assert.equal(after.settings, '{"billing":{"plan":"pro\\/yearly"}}');
  });

  it('db migrate --all migrates every tenant, the Laravel-made ones included (one as its own user)', async () => {
    const migrated = await cli(['db', 'migrate', '--all']);
    assert.equal(migrated.exitCode, 0, migrated.stderr + migrated.stdout);
    for (const database of [
      `${project.prefix}${plain}`,
      `${project.prefix}artflow_three`,
      `${project.prefix}acme`,
    ]) {
      const [rows] = (await admin.raw(
        'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
        [database, 'notes'],
      )) as [Array<{ n: number }>];
      assert.equal(Number(rows[0]!.n), 1, `${database} has the notes table`);
    }
    // Laravel's row is untouched by afty's own bookkeeping (last migration lives in afty_tenant_state).
    const row = (await tenantRows()).find((tenant) => tenant.id === withUser)!;
    assert.equal(row.updated_at, '2024-01-01 10:00:00');
    const show = await json<Tenant & { lastMigratedAt: string | null }>(['tenant', 'show', withUser]);
    assert.ok(show.json.lastMigratedAt, 'lastMigratedAt is recorded');
  });

  it('backup create, test all and diagnose work on the stancl registry', async () => {
    const backup = await cli(['backup', 'create', '-t', plain, '-t', 'acme']);
    assert.equal(backup.exitCode, 0, backup.stderr + backup.stdout);
    const test = await json<CheckReport>(['test', 'all', '--duration', '1']);
    const failed = test.json.results.filter((result) => result.status === 'fail');
    // The only findings: the two Laravel-made tenants without a user of their own connect as the
    // registry's user, which is true of them.
    assert.deepEqual(
      failed.map((result) => `${result.id} ${result.tenant ?? ''}`).sort(),
      [plain, named].map((id) => `security.registry-credentials ${id}`).sort(),
      JSON.stringify(failed.map((result) => result.message)),
    );
    assert.ok(test.json.results.some((result) => result.tenant === withUser && result.status === 'pass'));
    const diagnose = await json<CheckReport>(['diagnose']);
    const orphans = diagnose.json.results.find((result) => result.id === 'database.orphans');
    assert.equal(orphans?.status, 'pass', JSON.stringify(orphans));
  });

  it('tenant adopt registers an orphan database in stancl format; refuses registered or absent ones', async () => {
    const database = `${project.prefix}legacy`;
    await admin.raw('CREATE DATABASE ??', [database]);
    await admin.raw('CREATE TABLE ??.keep (id int primary key)', [database]);
    await admin.raw('INSERT INTO ??.keep VALUES (7)', [database]);
    const diagnose = await json<CheckReport>(['diagnose']);
    const orphans = diagnose.json.results.find((result) => result.id === 'database.orphans')!;
    assert.equal(orphans.status, 'warn');
    assert.match(orphans.message, new RegExp(database));
    assert.match(orphans.remedy ?? '', /afty tenant adopt/);

    const adopted = await json<Tenant>(['tenant', 'adopt', database]);
    assert.equal(adopted.exitCode, 0, adopted.stderr);
    assert.equal(adopted.json.id, 'legacy');
    const row = (await tenantRows()).find((tenant) => tenant.id === 'legacy')!;
    assert.equal(row.data, `{"tenancy_db_name":"${database}"}`);
    assert.equal(row.database_name, database);
    const [kept] = (await admin.raw('SELECT id FROM ??.keep', [database])) as [Array<{ id: number }>];
    assert.deepEqual(kept, [{ id: 7 }]);

    const before = await tenantRows();
    const again = await cli(['tenant', 'adopt', database, '--id', 'other']);
    assert.equal(again.exitCode, 2);
    assert.match(
      again.stderr,
      new RegExp(`database ${database} on server "default" is already tenant legacy`),
    );
    const absent = await cli(['tenant', 'adopt', `${project.prefix}nowhere`]);
    assert.equal(absent.exitCode, 2, absent.stderr);
    assert.match(absent.stderr, /does not exist on any configured server/);
    assert.deepEqual(await tenantRows(), before);
  });

  it('tenant delete removes the Laravel rows, the domains and afty state, the database and the user', async () => {
    const deleted = await cli(['tenant', 'delete', 'acme', '--force', '--no-backup']);
    assert.equal(deleted.exitCode, 0, deleted.stderr);
    assert.ok(!(await tenantRows()).some((tenant) => tenant.id === 'acme'));
    assert.ok(!(await domainRows()).some((domain) => domain.tenant_id === 'acme'));
    assert.equal((await central('afty_tenant_state').where({ tenant_id: 'acme' })).length, 0);
    const [databases] = (await admin.raw(
      'SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?',
      [`${project.prefix}acme`],
    )) as [unknown[]];
    assert.equal(databases.length, 0);
    // The Laravel-made tenants are still there as they were.
    assert.equal(
      (await tenantRows()).filter((tenant) =>
        ([plain, named, withUser] as string[]).includes(String(tenant.id)),
      ).length,
      3,
    );
  });
});

function mysqlHost(): { host: string; port: number } {
  const url = new URL(MARIADB_URL);
  return { host: url.hostname, port: Number(url.port || 3306) };
}

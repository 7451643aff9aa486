import { REGISTRY_SCHEMA_VERSION } from '../../src/lib/registry/index.js';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';
import { mariadbAdmin, requireMariaDb } from '../support/services.js';

/** The documented keys of a tenant in --json output (docs/json.md). */
const TENANT_KEYS = [
  'createdAt',
  'database',
  'dbUser',
  'domains',
  'homepage',
  'id',
  'lastMigratedAt',
  'maintenance',
  'name',
  'primaryDomain',
  'server',
  'settings',
  'status',
  'statusReason',
  'updatedAt',
];

interface Tenant {
  id: string;
  name: string;
  status: string;
  statusReason: string | null;
  database: string;
  dbUser: string | null;
  primaryDomain: string | null;
  domains: Array<{ domain: string; primary: boolean }>;
  maintenance: { message: string | null; allowIps: string[]; retryAfter: number | null } | null;
  homepage: boolean;
  settings: Record<string, unknown>;
}

describe('afty tenant (CLI, SQLite embedded default)', function () {
  this.timeout(60_000);
  let project: TestProject;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });

  before(() => {
    project = createProject({ driver: 'sqlite' });
  });
  after(() => project.cleanup());

  it('creates tenants; --json prints exactly the documented shape and nothing else', async () => {
    const created = await json<Tenant>([
      'tenant',
      'create',
      'acme',
      '--name',
      'Acme Inc',
      '-d',
      'acme.test',
      '-d',
      'www.acme.test',
    ]);
    assert.equal(created.exitCode, 0, created.stderr);
    assert.deepEqual(Object.keys(created.json).sort(), TENANT_KEYS);
    assert.equal(created.json.database, `${project.prefix}acme`);
    assert.equal(created.json.primaryDomain, 'acme.test');
    assert.ok(existsSync(path.join(project.dir, '.afty/tenants', `${project.prefix}acme.sqlite`)));

    const plain = await cli(['tenant', 'create', 'beta', '--status', 'suspended']);
    assert.equal(plain.exitCode, 0, plain.stderr);
    assert.match(plain.stdout, /^Created tenant beta \(database \S+ on server default\)$/m);
    assert.match(plain.stderr, /✓ database/);
  });

  it('lists with filters, sorting, paging, --json and --csv', async () => {
    const all = await json<{ total: number; tenants: Tenant[] }>(['tenant', 'list']);
    assert.equal(all.json.total, 2);
    assert.deepEqual(
      all.json.tenants.map((tenant) => tenant.id),
      ['acme', 'beta'],
    );
    const suspended = await json<{ total: number; tenants: Tenant[] }>([
      'tenant',
      'list',
      '--status',
      'suspended',
    ]);
    assert.deepEqual(
      suspended.json.tenants.map((tenant) => tenant.id),
      ['beta'],
    );
    const search = await json<{ tenants: Tenant[] }>(['tenant', 'list', '--search', 'www.acme']);
    assert.deepEqual(
      search.json.tenants.map((tenant) => tenant.id),
      ['acme'],
    );
    const paged = await json<{ total: number; tenants: Tenant[] }>([
      'tenant',
      'list',
      '--sort',
      '-id',
      '--limit',
      '1',
      '--offset',
      '1',
    ]);
    assert.equal(paged.json.total, 2);
    assert.deepEqual(
      paged.json.tenants.map((tenant) => tenant.id),
      ['acme'],
    );
    const csv = await cli(['tenant', 'list', '--csv']);
    assert.equal(
      csv.stdout.split('\n')[0],
      'id,name,status,server,database,primary_domain,domains,created_at,last_migrated_at',
    );
    assert.match(csv.stdout, /^acme,Acme Inc,active,default,\S+,acme\.test,acme\.test www\.acme\.test,/m);
    const table = await cli(['tenant', 'list']);
    assert.match(table.stdout, /^acme +Acme Inc +active /m);
    assert.match(table.stdout, /2 of 2 tenants/);
    const badSort = await cli(['tenant', 'list', '--sort', 'size']);
    assert.equal(badSort.exitCode, 2);
    assert.match(badSort.stderr, /invalid --sort "size"/);
  });

  it('shows a tenant by id or domain, with database size and table count', async () => {
    const shown = await json<Tenant & { databaseExists: boolean; databaseBytes: number; tableCount: number }>(
      ['tenant', 'show', 'WWW.ACME.TEST'],
    );
    assert.equal(shown.json.id, 'acme');
    assert.equal(shown.json.databaseExists, true);
    assert.equal(shown.json.tableCount, 0);
    assert.ok(shown.json.databaseBytes > 0, 'shown.json.databaseBytes > 0');
    const missing = await cli(['tenant', 'show', 'nobody']);
    assert.equal(missing.exitCode, 2);
    assert.match(missing.stderr, /^Error: no tenant with id or domain "nobody" — see afty tenant list$/m);
  });

  it('updates name, settings, maintenance and homepage; bad input changes nothing', async () => {
    const updated = await json<Tenant>([
      'tenant',
      'update',
      'acme',
      '--name',
      'Acme GmbH',
      '--set',
      'plan=pro',
      '--set',
      'limits.users=50',
      '--maintenance',
      'on',
      '--message',
      'Back soon',
      '--allow-ip',
      '203.0.113.7',
      '--retry-after',
      '600',
      '--homepage',
      'on',
    ]);
    assert.equal(updated.exitCode, 0, updated.stderr);
    assert.equal(updated.json.name, 'Acme GmbH');
    assert.deepEqual(updated.json.settings, { plan: 'pro', limits: { users: 50 } });
    assert.deepEqual(updated.json.maintenance, {
      message: 'Back soon',
      allowIps: ['203.0.113.7'],
      retryAfter: 600,
    });
    assert.equal(updated.json.homepage, true);

    const before = (await json<Tenant>(['tenant', 'show', 'acme'])).json;
    for (const args of [
      ['--allow-ip', '999.1.1.1', '--maintenance', 'on'],
      ['--set', 'bad key=1'],
      ['--maintenance', 'off', '--message', 'x'],
      ['--name', 'line\nbreak'],
      [],
    ]) {
      const rejected = await cli(['tenant', 'update', 'acme', ...args]);
      assert.equal(rejected.exitCode, 2, `${args.join(' ')}: ${rejected.stderr}`);
      assert.match(rejected.stderr, /^Error: /);
    }
    const after = (await json<Tenant>(['tenant', 'show', 'acme'])).json;
    assert.deepEqual(after, before);

    const off = await json<Tenant>(['tenant', 'update', 'acme', '--maintenance', 'off', '--set', 'plan=']);
    assert.equal(off.json.maintenance, null);
    assert.deepEqual(off.json.settings, { limits: { users: 50 } });
  });

  it('activates, suspends, blocks and deactivates, with reasons, and audits each change', async () => {
    for (const [verb, status] of [
      ['suspend', 'suspended'],
      ['block', 'blocked'],
      ['deactivate', 'inactive'],
      ['activate', 'active'],
    ] as const) {
      const result = await json<Tenant>([
        'tenant',
        verb,
        'beta',
        ...(verb === 'activate' ? [] : ['--reason', `${verb} test`]),
      ]);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(result.json.status, status);
      assert.equal(result.json.statusReason, verb === 'activate' ? null : `${verb} test`);
    }
    const ctx = await project.context();
    try {
      const audit = await (await ctx.registry()).listAudit(4);
      assert.deepEqual(
        audit.map((entry) => [entry.command, entry.tenantId, entry.outcome]),
        [
          ['tenant:activate', 'beta', 'ok'],
          ['tenant:deactivate', 'beta', 'ok'],
          ['tenant:block', 'beta', 'ok'],
          ['tenant:suspend', 'beta', 'ok'],
        ],
      );
    } finally {
      await ctx.close();
    }
  });

  it('manages domains (tenant domain add, tenant domain remove, tenant domain list): unique across tenants, one primary', async () => {
    const added = await json<{ domains: Array<{ domain: string; primary: boolean }> }>([
      'tenant',
      'domain',
      'add',
      'beta',
      'Beta.Test',
    ]);
    assert.deepEqual(added.json.domains, [{ domain: 'beta.test', primary: true }]);
    const second = await json<{ domains: Array<{ domain: string; primary: boolean }> }>([
      'tenant',
      'domain',
      'add',
      'beta',
      'beta.example',
      '--primary',
    ]);
    assert.deepEqual(second.json.domains, [
      { domain: 'beta.example', primary: true },
      { domain: 'beta.test', primary: false },
    ]);
    const stolen = await cli(['tenant', 'domain', 'add', 'beta', 'acme.test']);
    assert.equal(stolen.exitCode, 2);
    assert.match(stolen.stderr, /domain acme\.test already belongs to tenant acme/);
    const removed = await json<{ domains: Array<{ domain: string; primary: boolean }> }>([
      'tenant',
      'domain',
      'remove',
      'beta.example',
    ]);
    assert.deepEqual(removed.json.domains, [{ domain: 'beta.test', primary: true }]);
    const listed = await json<{ domains: Array<{ domain: string; tenant: string }> }>([
      'tenant',
      'domain',
      'list',
    ]);
    assert.deepEqual(
      listed.json.domains.map((entry) => `${entry.tenant}:${entry.domain}`),
      ['acme:acme.test', 'acme:www.acme.test', 'beta:beta.test'],
    );
    const unknown = await cli(['tenant', 'domain', 'remove', 'nope.test']);
    assert.equal(unknown.exitCode, 2);
  });

  it('runs a command per tenant with its environment, prefixed output and a summary', async () => {
    const ok = await cli([
      'tenant',
      'run',
      '--all',
      '--',
      'sh',
      '-c',
      'echo "id=$AFTY_TENANT_ID db=$AFTY_TENANT_DATABASE url=$DATABASE_URL"',
    ]);
    assert.equal(ok.exitCode, 0, ok.stderr);
    assert.match(
      ok.stdout,
      new RegExp(
        `^\\[acme\\] id=acme db=${project.prefix}acme url=sqlite:///\\S+${project.prefix}acme\\.sqlite$`,
        'm',
      ),
    );
    assert.match(ok.stdout, /^\[beta\] id=beta /m);
    assert.match(ok.stdout, /2 tenants: 2 ok/);

    const exact = await json<{ results: Array<{ tenant: string; output: Array<{ line: string }> }> }>([
      'tenant',
      'run',
      '-t',
      'acme',
      '--',
      'node',
      '-e',
      'console.log(JSON.stringify(process.argv.slice(1)))',
      'a b',
      '$HOME',
      "'quoted'",
      '--json',
    ]);
    assert.equal(exact.exitCode, 0);
    assert.deepEqual(JSON.parse(exact.json.results[0]!.output[0]!.line), [
      'a b',
      '$HOME',
      "'quoted'",
      '--json',
    ]);

    const failing = await json<{
      results: Array<{ tenant: string; status: string; error?: string }>;
      totals: { failed: number };
    }>(['tenant', 'run', '--all', '--', 'sh', '-c', 'test "$AFTY_TENANT_ID" = acme']);
    assert.equal(failing.exitCode, 1);
    assert.deepEqual(
      failing.json.results.map((result) => [result.tenant, result.status, result.error]),
      [
        ['acme', 'ok', undefined],
        ['beta', 'failed', 'sh exited with code 1'],
      ],
    );

    const bail = await json<{ results: Array<{ status: string }> }>([
      'tenant',
      'run',
      '--all',
      '--bail',
      '-c',
      '1',
      '--',
      'false',
    ]);
    assert.deepEqual(
      bail.json.results.map((result) => result.status),
      ['failed', 'skipped'],
    );
    const missing = await cli(['tenant', 'run', '--all', '--', 'no-such-program-afty']);
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stdout, /command not found: no-such-program-afty/);
  });

  it('never prompts without a terminal: the error names the flag', async () => {
    const noSelection = await cli(['tenant', 'run', '--', 'true']);
    assert.equal(noSelection.exitCode, 2);
    assert.match(noSelection.stderr, /pass --tenant ID \(repeatable\) or --all/);
    const noSeparator = await cli(['tenant', 'run', '--all', 'true']);
    assert.equal(noSeparator.exitCode, 2);
    assert.match(noSeparator.stderr, /put the command after --/);
    const refused = await cli(['tenant', 'delete', 'beta']);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /refusing to delete tenant beta .* without confirmation — pass --force/);
    assert.equal((await json<Tenant>(['tenant', 'show', 'beta'])).exitCode, 0, 'beta still exists');
  });

  it('deletes with --force: database file and rows are gone; --json errors keep their exit code', async () => {
    const deleted = await json<{ id: string; databaseDropped: boolean }>([
      'tenant',
      'delete',
      'beta',
      '--force',
    ]);
    assert.deepEqual([deleted.exitCode, deleted.json.id, deleted.json.databaseDropped], [0, 'beta', true]);
    assert.ok(!existsSync(path.join(project.dir, '.afty/tenants', `${project.prefix}beta.sqlite`)));
    const gone = await json<{ error: { code: string; exitCode: number; message: string } }>([
      'tenant',
      'show',
      'beta',
    ]);
    assert.equal(gone.exitCode, 2);
    assert.deepEqual(gone.json.error.exitCode, 2);
    assert.equal(gone.json.error.code, 'not_found');
  });

  it('exits 3 with a clear line when the central registry is unreachable', async () => {
    const result = await runJson<{ error: { exitCode: number; message: string } }>(['tenant', 'list'], {
      cwd: project.dir,
      env: { ...project.env, AFTY_CENTRAL_URL: 'mysql://root:hunter2@127.0.0.1:1/afty' },
    });
    assert.equal(result.exitCode, 3);
    assert.equal(result.json.error.exitCode, 3);
    assert.match(
      result.json.error.message,
      /cannot reach the central registry at mysql:\/\/root@127\.0\.0\.1:1\/afty/,
    );
    assert.ok(
      !result.stdout.includes('hunter2') && !result.stderr.includes('hunter2'),
      'password never printed',
    );
  });
});

describe('afty init (CLI)', function () {
  this.timeout(60_000);
  let project: TestProject;
  before(() => {
    project = createProject({ driver: 'sqlite' });
  });
  after(() => project.cleanup());

  it('writes the config with --yes, tests connections, creates the registry, and never overwrites without --force', async () => {
    const configFile = path.join(project.dir, 'afty.config.json');
    const original = readFileSync(configFile, 'utf8');
    const refused = await runCli(['init', '--yes'], { cwd: project.dir, env: project.env });
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /already exists — pass --force/);
    assert.equal(readFileSync(configFile, 'utf8'), original);

    const noAnswers = await runCli(['init', '--force'], { cwd: project.dir, env: project.env });
    assert.equal(noAnswers.exitCode, 2);
    assert.match(noAnswers.stderr, /pass --yes/);

    const unreachable = await runCli(
      ['init', '--yes', '--force', '--central', 'mysql://root@127.0.0.1:1/afty'],
      {
        cwd: project.dir,
        env: project.env,
      },
    );
    assert.equal(unreachable.exitCode, 3);
    assert.match(unreachable.stderr, /nothing was written/);
    assert.equal(readFileSync(configFile, 'utf8'), original);

    const done = await runJson<{
      config: string;
      registry: string;
      checks: Array<{ name: string; ok: boolean }>;
    }>(['init', '--yes', '--force', '--migrations', 'db/tenant'], { cwd: project.dir, env: project.env });
    assert.equal(done.exitCode, 0, done.stderr);
    assert.equal(done.json.registry, REGISTRY_SCHEMA_VERSION);
    assert.deepEqual(
      done.json.checks.map((check) => [check.name, check.ok]),
      [
        ['central', true],
        ['server', true],
      ],
    );
    const written = JSON.parse(readFileSync(configFile, 'utf8')) as { migrations: { directory: string } };
    assert.equal(written.migrations.directory, 'db/tenant');
    assert.ok(existsSync(path.join(project.dir, '.afty/central.sqlite')));
  });
});

describe('afty tenant on MariaDB (CLI)', function () {
  this.timeout(60_000);
  let project: TestProject;
  before(async () => {
    await requireMariaDb();
    project = createProject({ driver: 'mariadb' });
    const central = (project.config.central as string).replace(/\/[^/]+$/, '');
    const init = await runCli(
      ['init', '--yes', '--force', '--central', project.config.central as string, '--server', central],
      {
        cwd: project.dir,
        env: project.env,
      },
    );
    assert.equal(init.exitCode, 0, init.stderr);
    // init writes the default prefix; put the test's unique prefix back so cleanup finds everything.
    const file = path.join(project.dir, 'afty.config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as { tenancy: { databasePrefix: string } };
    config.tenancy.databasePrefix = project.prefix;
    writeFileSync(file, JSON.stringify(config));
  });
  after(() => project.cleanup());

  it('create → database and user exist with a grant on their own database only; delete removes all', async () => {
    const created = await runJson<Tenant>(['tenant', 'create', 'maria-co', '-d', 'maria.test'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(created.exitCode, 0, created.stderr);
    const admin = await mariadbAdmin();
    try {
      const [grants] = (await admin.raw('SHOW GRANTS FOR ?@?', [created.json.dbUser, '%'])) as [
        Array<Record<string, string>>,
      ];
      const onDatabases = grants
        .map((row) => Object.values(row)[0]!)
        .filter((grant) => !grant.includes(' ON *.* '));
      assert.deepEqual(onDatabases, [
        `GRANT ALL PRIVILEGES ON \`${created.json.database.replace(/_/g, '\\_')}\`.* TO \`${created.json.dbUser}\`@\`%\``,
      ]);

      const noSecret = { ...project.env };
      delete noSecret.AFTY_SECRET;
      const refused = await runCli(['tenant', 'create', 'no-secret'], { cwd: project.dir, env: noSecret });
      assert.equal(refused.exitCode, 2);
      assert.match(refused.stderr, /AFTY_SECRET is not set.*export AFTY_SECRET=/);

      const deleted = await runCli(['tenant', 'delete', 'maria-co', '--force'], {
        cwd: project.dir,
        env: project.env,
      });
      assert.equal(deleted.exitCode, 0, deleted.stderr);
      const [[databases], [users]] = (await Promise.all([
        admin.raw('SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?', [
          `${project.prefix.replace(/_/g, '\\_')}%`,
        ]),
        admin.raw('SELECT User FROM mysql.user WHERE User LIKE ?', [
          `${project.prefix.replace(/_/g, '\\_')}%`,
        ]),
      ])) as Array<[unknown[]]>;
      assert.deepEqual([databases, users], [[], []]);
      const [rows] = (await admin.raw('SELECT COUNT(*) AS n FROM ??.afty_tenants', [
        `afty_central_${project.token}`,
      ])) as [Array<{ n: number }>];
      assert.equal(Number(rows[0]!.n), 0);
    } finally {
      await admin.destroy();
    }
  });
});

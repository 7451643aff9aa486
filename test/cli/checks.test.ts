import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, type TestSuites } from 'junit2json';
import type { CheckReport } from '../../src/lib/checks/types.js';
import { Registry } from '../../src/lib/registry/index.js';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';
import { REDIS_URL, mariadbAdmin, requireMariaDb, requireRedis } from '../support/services.js';

const MIGRATION = (table: string) => `export async function up(knex) {
  await knex.schema.createTable('${table}', (t) => {
    t.increments('id');
    t.string('name', 100);
  });
}
export async function down(knex) {
  await knex.schema.dropTable('${table}');
}
`;

/** A project with two migrated tenants; Redis configured when asked. */
async function fleet(driver: 'mariadb' | 'sqlite', withRedis: boolean): Promise<TestProject> {
  const project = createProject({ driver });
  if (withRedis) {
    const config = { ...project.config, cache: { ...(project.config.cache as object), url: REDIS_URL } };
    writeFileSync(path.join(project.dir, 'afty.config.json'), JSON.stringify(config));
  }
  const migrations = path.join(project.dir, 'migrations/tenant');
  mkdirSync(migrations, { recursive: true });
  writeFileSync(path.join(migrations, '001_users.mjs'), MIGRATION('users'));
  if (driver === 'mariadb') {
    const ctx = await project.context();
    await Registry.createDatabase(ctx.config.central);
    await ctx.close();
  }
  for (const id of ['alpha', 'beta']) {
    const created = await runCli(['tenant', 'create', id, '--migrate'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(created.exitCode, 0, created.stderr);
  }
  return project;
}

describe('afty test / afty diagnose (CLI, MariaDB + Redis)', function () {
  this.timeout(120_000);
  let project: TestProject;
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(args, { cwd: project.dir, env: { ...project.env, ...env } });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });

  before(async () => {
    await requireMariaDb();
    await requireRedis();
    project = await fleet('mariadb', true);
  });
  after(() => project?.cleanup());

  it('test all --reporter junit --output writes JUnit XML a parser reads: a suite per category, a case per check and tenant', async () => {
    const file = path.join(project.dir, 'report.xml');
    const result = await cli(['test', 'all', '--reporter', 'junit', '--output', file, '--duration', '1']);
    assert.equal(result.exitCode, 0, result.stdout + result.stderr);
    assert.match(result.stderr, /junit report written to .*report\.xml/);
    assert.match(result.stdout, /✓ connections\.tenant \[alpha\]/);
    assert.match(result.stdout, /0 failed/);
    const parsed = (await parse(readFileSync(file, 'utf8'))) as TestSuites;
    assert.deepEqual(
      parsed.testsuite!.map((suite) => suite.name),
      ['connections', 'isolation', 'cache', 'database', 'performance', 'security'],
    );
    assert.equal(parsed.failures, 0);
    const names = parsed.testsuite!.flatMap((suite) => suite.testcase!.map((testcase) => testcase.name));
    assert.equal(names.length, parsed.tests);
    for (const name of [
      'isolation.database-access [alpha]',
      'isolation.database-access [beta]',
      'cache.operations [beta]',
      'performance.load',
    ]) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
  });

  it('--reporter tap prints TAP 13', async () => {
    const result = await cli(['test', 'security', '--reporter', 'tap']);
    assert.equal(result.exitCode, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.equal(lines[0], 'TAP version 13');
    const plan = /^1\.\.(\d+)$/.exec(lines[1]!);
    assert.ok(plan, 'plan');
    const points = lines.filter((line) => /^(not )?ok \d+ - /.test(line));
    assert.equal(points.length, Number(plan[1]));
    assert.ok(
      points.every((line) => line.startsWith('ok ')),
      "points.every((line) => line.startsWith('ok '))",
    );
  });

  it('--json returns the report; --tenant narrows it', async () => {
    const result = await json<CheckReport>(['test', 'database', '--tenant', 'beta']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.json.command, 'test');
    assert.equal(result.json.totals.tenants, 1);
    assert.deepEqual(
      result.json.tenants.map(({ tenant, status }) => [tenant, status]),
      [['beta', 'ok']],
    );
    assert.equal(result.json.summary.fail, 0);
    const tenants = new Set(result.json.results.map((entry) => entry.tenant).filter(Boolean));
    assert.deepEqual([...tenants], ['beta']);
    const first = result.json.results[0]!;
    assert.deepEqual(Object.keys(first).sort(), [
      'category',
      'details',
      'durationMs',
      'id',
      'message',
      'remedy',
      'server',
      'status',
      'tenant',
      'title',
    ]);
  });

  it('--list prints the checks; an unknown category or a tap report on --json stdout is exit 2', async () => {
    const list = await json<{ checks: Array<{ id: string }> }>(['test', '--list']);
    assert.equal(list.exitCode, 0);
    assert.ok(
      list.json.checks.some((check) => check.id === 'isolation.cache-keyspace'),
      "list.json.checks.some((check) => check.id === 'isolation.cache-keyspace')",
    );
    const bogus = await cli(['test', 'speed']);
    assert.equal(bogus.exitCode, 2);
    assert.match(bogus.stderr, /unknown check category "speed".*connections, isolation/);
    const clash = await cli(['test', 'connections', '--reporter', 'tap', '--json']);
    assert.equal(clash.exitCode, 2);
    assert.match(clash.stdout, /needs --output FILE/);
  });

  it('a dropped database fails test (naming tenant and remedy); diagnose --fix recreates it and the next run is clean', async () => {
    const admin = await mariadbAdmin();
    try {
      await admin.raw('DROP DATABASE ??', [`${project.prefix}beta`]);
    } finally {
      await admin.destroy();
    }
    const test = await cli(['test', 'database']);
    assert.equal(test.exitCode, 1, test.stdout);
    assert.match(test.stdout, /✗ database\.present \[beta\] {2}database \S+beta of beta is missing/);
    assert.match(test.stdout, /→ afty diagnose --fix --tenant beta/);

    const before = await cli(['diagnose']);
    assert.equal(before.exitCode, 1);
    assert.match(before.stdout, /✗ database\.present \[beta\]/);

    const fixed = await json<CheckReport>(['diagnose', '--fix']);
    assert.equal(fixed.exitCode, 0, JSON.stringify(fixed.json));
    const repair = fixed.json.results.find((entry) => entry.fix);
    assert.equal(repair?.tenant, 'beta');
    assert.match(repair!.fix!.message, /created \S+beta .* applied 1 migration/);

    const after = await cli(['diagnose']);
    assert.equal(after.exitCode, 0, after.stdout);
    assert.doesNotMatch(after.stdout, /✗/);
    assert.equal((await cli(['test', 'database', 'connections'])).exitCode, 0);
  });

  it('exits 3 when Redis is unreachable', async () => {
    const result = await cli(['test', 'connections'], { AFTY_REDIS_URL: 'redis://127.0.0.1:1/0' });
    assert.equal(result.exitCode, 3, result.stdout);
    assert.match(result.stdout, /✗ connections\.redis {2}cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });
});

describe('afty test (CLI, SQLite, no Redis)', function () {
  this.timeout(120_000);
  let project: TestProject;
  before(async () => {
    project = await fleet('sqlite', false);
  });
  after(() => project?.cleanup());

  it('test all passes on the embedded default; user probes are skipped, the database cache store is used', async () => {
    const result = await runJson<CheckReport>(['test', 'all', '--duration', '1'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(
      result.exitCode,
      0,
      JSON.stringify(result.json.results.filter((entry) => entry.status === 'fail')),
    );
    const status = (id: string, tenant: string | null) =>
      result.json.results.find((entry) => entry.id === id && entry.tenant === tenant)?.status;
    assert.equal(status('isolation.database-access', 'alpha'), 'skip');
    assert.equal(status('isolation.rows', 'alpha'), 'pass');
    assert.equal(status('cache.operations', 'beta'), 'pass');
    assert.equal(status('isolation.cache', 'beta'), 'pass');
    assert.equal(status('connections.redis', null), 'skip');
  });
});

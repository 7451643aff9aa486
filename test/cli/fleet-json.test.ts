import assert from 'node:assert/strict';
import path from 'node:path';
import { z } from 'zod';
import { TENANT_OUTCOMES } from '../../src/lib/fleet/index.js';
import { runCli, runJson } from '../support/cli.js';
import {
  createTableMigration,
  writeScripts,
  writeStandardFixture,
} from '../integration/migrations-fixture.js';
import { createProject, type TestProject } from '../support/project.js';
import { REDIS_URL, requireRedis } from '../support/services.js';

/** The one --json contract of every fleet command (docs/json.md). */
const fleetDocument = z.object({
  tenants: z.array(
    z.object({
      tenant: z.string().min(1),
      status: z.enum(TENANT_OUTCOMES),
      durationMs: z.number().int().nonnegative(),
      error: z.string().nullable(),
      step: z.string().nullable(),
    }),
  ),
  totals: z.object({
    tenants: z.number().int(),
    total: z.number().int(),
    ok: z.number().int(),
    failed: z.number().int(),
    skipped: z.number().int(),
    locked: z.number().int(),
    timeout: z.number().int(),
    interrupted: z.number().int(),
  }),
  interrupted: z.string().nullable(),
});

describe('one --json contract for every fleet command (CLI, SQLite + Redis)', function () {
  this.timeout(120_000);
  let project: TestProject;
  const json = (args: string[]) =>
    runJson<Record<string, unknown>>(args, { cwd: project.dir, env: project.env });

  before(async () => {
    await requireRedis();
    project = createProject({
      driver: 'sqlite',
      config: { cache: { url: REDIS_URL, prefix: `afty-test-json-${Date.now()}:` } },
    });
    writeStandardFixture(project.dir);
    for (const id of ['alpha', 'bravo']) {
      const created = await runCli(['tenant', 'create', id, '--domain', `${id}.test`], {
        cwd: project.dir,
        env: project.env,
      });
      assert.equal(created.exitCode, 0, created.stderr);
    }
  });
  after(() => project.cleanup());

  const commands: string[][] = [
    ['db', 'migrate', '--all'],
    ['db', 'status', '--all'],
    ['db', 'seed', '--all'],
    ['db', 'rollback', '-t', 'alpha', '--force'],
    ['db', 'fresh', '-t', 'alpha', '--force'],
    ['db', 'unlock', '--all'],
    ['backup', 'create', '--all'],
    ['backup', 'verify', '--all'],
    ['backup', 'restore', '-t', 'alpha', '--latest', '--force'],
    ['backup', 'prune', '--all', '--dry-run'],
    ['cache', 'clear', '--all', '--force'],
    ['cache', 'warm'],
    ['cache', 'stats'],
    ['tenant', 'run', '--all', '--', 'node', '-e', '0'],
    ['test', 'database'],
    ['diagnose'],
  ];
  for (const args of commands) {
    it(`afty ${args.filter((arg) => arg !== '--').join(' ')} --json`, async () => {
      const result = await json(args);
      assert.ok([0, 1].includes(result.exitCode), result.stderr);
      const parsed = fleetDocument.safeParse(result.json);
      assert.ok(parsed.success, `${JSON.stringify(parsed.error?.issues)}\n${result.stdout.slice(0, 2000)}`);
      assert.ok(parsed.data.tenants.length >= 1);
      assert.equal(parsed.data.totals.total, parsed.data.totals.tenants, '0.1 name kept');
    });
  }

  it('dry-run flags are in the JSON whether or not they were given', async () => {
    for (const args of [
      ['db', 'migrate', '--all'],
      ['db', 'rollback', '--all', '--dry-run'],
      ['cache', 'clear', '--all', '--dry-run'],
      ['backup', 'prune', '--all', '--dry-run'],
    ]) {
      const result = await json(args);
      assert.equal(typeof result.json.dryRun, 'boolean', args.join(' '));
    }
  });
});

describe('db rollback never wipes a fleet by surprise (issue: partial deploys)', function () {
  this.timeout(120_000);
  let project: TestProject;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  type Rollback = {
    dryRun: boolean;
    tenants: Array<{
      tenant: string;
      status: string;
      error: string | null;
      rolledBack: Array<{ name: string }>;
      wouldRollBack: string[];
    }>;
  };
  const applied = async (tenant: string) =>
    (await json<{ tenants: Array<{ applied: number }> }>(['db', 'status', '-t', tenant])).json.tenants[0]!
      .applied;

  before(async () => {
    project = createProject({ driver: 'sqlite' });
    writeStandardFixture(project.dir);
    for (const id of ['alpha', 'bravo', 'charlie']) {
      assert.equal((await cli(['tenant', 'create', id, '--migrate'])).exitCode, 0);
    }
    // A partial deploy: a new migration on alpha only.
    writeScripts(path.join(project.dir, 'migrations/tenant'), {
      '004_tags.js': createTableMigration('tags'),
    });
    assert.equal((await cli(['db', 'migrate', '-t', 'alpha'])).exitCode, 0);
  });
  after(() => project.cleanup());

  it('without a terminal it needs --force: exit 2, one line, nothing rolled back', async () => {
    const refused = await cli(['db', 'rollback', '--all']);
    assert.equal(refused.exitCode, 2);
    assert.match(
      refused.stderr,
      /^Error: refusing to roll back the last batch of 3 tenants .* — pass --force/m,
    );
    assert.equal(refused.stderr.trim().split('\n').length, 1);
    assert.equal(await applied('alpha'), 4);
    assert.equal(await applied('bravo'), 3);
  });

  it('--dry-run says per tenant exactly what would be undone, and changes nothing', async () => {
    const dry = await json<Rollback>(['db', 'rollback', '--all', '--dry-run']);
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.equal(dry.json.dryRun, true);
    const byTenant = Object.fromEntries(dry.json.tenants.map((row) => [row.tenant, row]));
    assert.deepEqual(byTenant.alpha!.wouldRollBack, ['004_tags.js']);
    assert.equal(byTenant.bravo!.status, 'skipped');
    assert.match(
      byTenant.bravo!.error!,
      /would undo its first batch \(3 migrations, its initial schema: 003_posts.mjs, 002_teams.cjs, 001_users.js\)/,
    );
    assert.equal(await applied('alpha'), 4);
  });

  it('--all --force undoes the partial deploy on alpha and leaves the others whole', async () => {
    const done = await json<Rollback>(['db', 'rollback', '--all', '--force']);
    assert.equal(done.exitCode, 0, done.stderr);
    const byTenant = Object.fromEntries(done.json.tenants.map((row) => [row.tenant, row]));
    assert.deepEqual(
      byTenant.alpha!.rolledBack.map((step) => step.name),
      ['004_tags.js'],
    );
    for (const id of ['bravo', 'charlie']) {
      assert.equal(byTenant[id]!.status, 'skipped');
      assert.match(
        byTenant[id]!.error!,
        /pass --include-initial to undo it, or roll back this tenant alone with -t/,
      );
      assert.equal(await applied(id), 3, `${id} keeps its schema`);
    }
    const pretty = await cli(['db', 'rollback', '--all', '--force']);
    assert.match(pretty.stdout, /3 tenants: 0 ok, 3 skipped/);
  });

  it('--include-initial undoes first batches; one named tenant may always be rolled back', async () => {
    const one = await json<Rollback>(['db', 'rollback', '-t', 'bravo', '--force']);
    assert.equal(one.exitCode, 0, one.stderr);
    assert.equal(one.json.tenants[0]!.rolledBack.length, 3);
    const all = await json<Rollback>(['db', 'rollback', '--all', '--include-initial', '--force']);
    assert.equal(all.exitCode, 0, all.stderr);
    assert.equal(await applied('charlie'), 0);
  });
});

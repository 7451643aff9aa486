import assert from 'node:assert/strict';
import { execa } from 'execa';
import path from 'node:path';
import type { MigrateJson } from '../../src/commands/db/migrate.js';
import type { RunSummary, RunTenantRow } from '../../src/lib/registry/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import { BIN, runCli, runJson } from '../support/cli.js';
import {
  createTableMigration,
  writeScripts,
  writeStandardFixture,
} from '../integration/migrations-fixture.js';
import { createProject, type TestProject } from '../support/project.js';

type Shown = RunSummary & { tenants: RunTenantRow[] };

describe('run records, resume, shards, canary and rollback of a run (CLI, SQLite)', function () {
  this.timeout(180_000);
  let project: TestProject;
  const ids = Array.from({ length: 12 }, (_, index) => `t${String(index + 1).padStart(2, '0')}`);
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  const show = async (run: string) => (await json<Shown>(['runs', 'show', run])).json;
  const migrations = () => path.join(project.dir, 'migrations/tenant');

  async function sql(tenant: string, statement: string): Promise<unknown[]> {
    const ctx = await project.context();
    try {
      const record = (await (await ctx.registry()).findTenant(tenant))!;
      const db = await createKnex(ctx.servers.get(record.server).tenantLocation(record.database));
      try {
        return (await db.raw(statement)) as unknown[];
      } finally {
        await db.destroy();
      }
    } finally {
      await ctx.close();
    }
  }
  const recorded = async (tenant: string) =>
    ((await sql(tenant, 'SELECT name FROM knex_migrations ORDER BY id')) as Array<{ name: string }>).map(
      (row) => row.name,
    );

  before(async () => {
    project = createProject({ driver: 'sqlite' });
    writeStandardFixture(project.dir);
    for (const id of ids) assert.equal((await cli(['tenant', 'create', id])).exitCode, 0);
  });
  after(() => project.cleanup());

  it('records a run for each kind of changing command, with secrets redacted; its id ends the output', async () => {
    const migrated = await cli(['db', 'migrate', '--all']);
    assert.equal(migrated.exitCode, 0, migrated.stderr);
    const id = /^Run (r\d{8}T\d{6}Z-[0-9a-f]{6}) \(afty runs show \1\)$/m.exec(
      migrated.stdout.trim().split('\n').at(-1)!,
    )?.[1];
    assert.ok(id, migrated.stdout);
    const run = await show(id);
    assert.equal(run.command, 'db:migrate');
    assert.deepEqual(run.arguments, ['--all']);
    assert.equal(run.totals.ok, 12);
    assert.deepEqual((run.tenants[0]!.detail as { applied: string[] }).applied, [
      '001_users.js',
      '002_teams.cjs',
      '003_posts.mjs',
    ]);
    assert.equal(run.parts.length, 1);
    assert.equal(run.parts[0]!.outcome, 'ok');

    const seeded = await json<{ run: string }>(['db', 'seed', '-t', 't01']);
    const backedUp = await json<{ run: string }>(['backup', 'create', '-t', 't01']);
    const cleared = await json<{ run: string }>(['cache', 'clear', '-t', 't01']);
    const ran = await json<{ run: string }>([
      'tenant',
      'run',
      '-t',
      't01',
      '--',
      'node',
      '-e',
      '0',
      '--password',
      'hunter2',
    ]);
    const suspended = await json<{ run: string }>(['tenant', 'suspend', '-t', 't12', '--force']);
    for (const result of [seeded, backedUp, cleared, ran, suspended])
      assert.match(result.json.run, /^r\d{8}T/);
    const list = await json<{ runs: RunSummary[] }>(['runs', 'list', '--limit', '10']);
    assert.deepEqual(list.json.runs.map((entry) => entry.command).slice(0, 6), [
      'tenant:suspend',
      'tenant:run',
      'cache:clear',
      'backup:create',
      'db:seed',
      'db:migrate',
    ]);
    const runRecord = list.json.runs.find((entry) => entry.command === 'tenant:run')!;
    assert.ok(!JSON.stringify(runRecord.arguments).includes('hunter2'), JSON.stringify(runRecord.arguments));
    const filtered = await json<{ runs: RunSummary[] }>(['runs', 'list', '--command', 'db migrate']);
    assert.deepEqual([...new Set(filtered.json.runs.map((entry) => entry.command))], ['db:migrate']);
    assert.equal((await cli(['tenant', 'activate', '-t', 't12', '--force'])).exitCode, 0);
    // Nothing to record for a dry run.
    const dry = await json<{ run?: string }>(['db', 'migrate', '--all', '--dry-run']);
    assert.equal(dry.json.run, undefined);
  });

  it('fleet-wide maintenance and status changes confirm, change every selected tenant as one run; runs prune drops old records', async () => {
    type Listed = { total: number; tenants: Array<{ id: string; status: string }> };
    const listed = async (args: string[]) => (await json<Listed>(['tenant', 'list', ...args])).json;

    // Without a terminal a fleet change needs --force, and nothing changes without it.
    const refused = await cli(['tenant', 'suspend', '--all']);
    assert.equal(refused.exitCode, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /^Error: refusing to suspend 12 tenants without confirmation — pass --force/,
    );
    assert.equal((await listed(['--status', 'suspended'])).total, 0);

    const on = await json<{ totals: { ok: number }; run: string }>([
      'tenant',
      'maintenance',
      'on',
      '--all',
      '--force',
      '--message',
      'Back soon',
    ]);
    assert.equal(on.exitCode, 0, on.stderr);
    assert.equal(on.json.totals.ok, ids.length);
    assert.equal((await show(on.json.run)).command, 'tenant:maintenance');
    assert.equal((await listed(['--maintenance', 'on'])).total, ids.length);
    assert.equal(
      (await cli(['tenant', 'maintenance', 'off', '-t', 't01', '-t', 't02', '--force'])).exitCode,
      0,
    );
    assert.deepEqual(
      (await listed(['--maintenance', 'off'])).tenants.map((tenant) => tenant.id),
      ['t01', 't02'],
    );
    assert.equal((await cli(['tenant', 'maintenance', 'off', '--all', '--force'])).exitCode, 0);

    const suspended = await json<{ totals: { ok: number }; run: string }>([
      'tenant',
      'suspend',
      '--all',
      '--exclude',
      't12',
      '--force',
      '--reason',
      'audit',
    ]);
    assert.equal(suspended.json.totals.ok, ids.length - 1, suspended.stderr);
    assert.equal((await listed(['--status', 'suspended'])).total, ids.length - 1);
    assert.equal((await cli(['tenant', 'activate', '--status', 'suspended', '--force'])).exitCode, 0);
    assert.equal((await listed(['--status', 'active'])).total, ids.length);

    // Age the maintenance run past the retention; prune removes it and keeps the others.
    const before = (await json<{ runs: Array<{ id: string }> }>(['runs', 'list', '--limit', '1000'])).json
      .runs;
    const ctx = await project.context();
    try {
      const registry = await ctx.registry();
      await registry
        .db('afty_runs')
        .where({ id: on.json.run })
        .update({ started_at: '2020-01-01 00:00:00.000' });
    } finally {
      await ctx.close();
    }
    const pruned = await cli(['runs', 'prune', '--keep-days', '30']);
    assert.equal(pruned.exitCode, 0, pruned.stderr);
    const after = (await json<{ runs: Array<{ id: string }> }>(['runs', 'list', '--limit', '1000'])).json
      .runs;
    assert.deepEqual(
      after.map((run) => run.id).sort(),
      before
        .map((run) => run.id)
        .filter((id) => id !== on.json.run)
        .sort(),
    );
    assert.equal((await cli(['runs', 'show', on.json.run])).exitCode, 2);
  });

  it('--resume after a failure runs only the tenants that did not finish ok, and links the runs', async () => {
    await sql('t03', 'CREATE TABLE tags (id INTEGER)');
    writeScripts(migrations(), { '004_tags.js': createTableMigration('tags') });
    const failed = await json<MigrateJson & { run: string }>(['db', 'migrate', '--all']);
    assert.equal(failed.exitCode, 1);
    await sql('t03', 'DROP TABLE tags');
    const resumed = await json<MigrateJson & { run: string }>(['db', 'migrate', '--resume', failed.json.run]);
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.deepEqual(
      resumed.json.tenants.map((row) => row.tenant),
      ['t03'],
    );
    assert.match(resumed.stderr, new RegExp(`resuming ${failed.json.run}: 1 tenant to do`));
    assert.equal((await show(resumed.json.run)).resumes, failed.json.run);
    // It is the same command with the same arguments, or nothing.
    const wrong = await cli(['db', 'seed', '--resume', failed.json.run]);
    assert.equal(wrong.exitCode, 2);
    assert.match(wrong.stderr, /was afty db migrate, not db seed/);
    const changed = await cli(['db', 'migrate', '--resume', failed.json.run, '--step', '1']);
    assert.equal(changed.exitCode, 2);
    assert.match(changed.stderr, /runs .* again with its own arguments: drop --step/);
  });

  it('--resume after Ctrl-C finishes what the interrupted run left, and converges', async () => {
    writeScripts(migrations(), {
      '005_slow.js': `export async function up(knex) {
  await new Promise((resolve) => setTimeout(resolve, 300));
  await knex.schema.createTable('slow', (t) => t.increments('id'));
}
export async function down(knex) {
  await knex.schema.dropTable('slow');
}
`,
    });
    const child = execa('node', [BIN, 'db', 'migrate', '--all', '-c', '1', '--json'], {
      cwd: project.dir,
      env: project.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    let done = 0;
    child.stderr!.on('data', (chunk: Buffer) => {
      const before = done;
      done += (chunk.toString().match(/^✓ /gm) ?? []).length;
      if (before < 3 && done >= 3) child.kill('SIGINT');
    });
    const interrupted = await child;
    assert.equal(interrupted.exitCode, 130, interrupted.stderr);
    const first = JSON.parse(interrupted.stdout) as MigrateJson & { run: string };
    const unfinished = first.tenants.filter((row) => row.status !== 'ok').map((row) => row.tenant);
    assert.ok(unfinished.length >= 6, JSON.stringify(first.tenants.map((row) => row.status)));
    const run = await show(first.run);
    assert.equal(run.parts[0]!.outcome, 'interrupted (SIGINT)');
    const resumed = await json<MigrateJson & { run: string }>(['db', 'migrate', '--resume', first.run]);
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.deepEqual(
      resumed.json.tenants.map((row) => row.tenant),
      unfinished,
    );
    const status = await json<{ totals: { upToDate: number } }>(['db', 'status', '--all']);
    assert.equal(status.json.totals.upToDate, 12);
  });

  it('--shard 1..N covers every tenant exactly once; shards into one --run-id merge', async () => {
    const shares = await Promise.all(
      [1, 2, 3].map((index) =>
        json<{ tenants: Array<{ tenant: string }> }>(['db', 'status', '--all', '--shard', `${index}/3`]),
      ),
    );
    const seen = shares.flatMap((share) => share.json.tenants.map((row) => row.tenant)).sort();
    assert.deepEqual(seen, ids, 'every tenant once');
    writeScripts(migrations(), { '006_more.js': createTableMigration('more') });
    const runId = `deploy-${Date.now()}`;
    const deployed = await Promise.all(
      [1, 2, 3].map((index) =>
        json<{ run: string }>(['db', 'migrate', '--shard', `${index}/3`, '--run-id', runId]),
      ),
    );
    for (const shard of deployed) {
      assert.equal(shard.exitCode, 0, shard.stderr);
      assert.equal(shard.json.run, runId);
    }
    const merged = await show(runId);
    assert.deepEqual(
      merged.parts.map((part) => part.part),
      ['1/3', '2/3', '3/3'],
    );
    assert.equal(merged.totals.ok, 12);
    assert.ok(merged.finishedAt, 'finished once every part is');
    // GitLab's parallel jobs, read from the environment.
    const gitlab = await runJson<{ tenants: Array<{ tenant: string }> }>(['db', 'status', '--all'], {
      cwd: project.dir,
      env: { ...project.env, CI_NODE_INDEX: '2', CI_NODE_TOTAL: '3' },
    });
    assert.deepEqual(
      gitlab.json.tenants.map((row) => row.tenant),
      shares[1]!.json.tenants.map((row) => row.tenant),
    );
  });

  it('a failing canary stops the run before any other tenant starts', async () => {
    await sql('t05', 'CREATE TABLE canary (id INTEGER)');
    writeScripts(migrations(), { '007_canary.js': createTableMigration('canary') });
    const result = await json<MigrateJson>([
      'db',
      'migrate',
      '--all',
      '--canary-tenants',
      't05',
      '--waves',
      '50%',
    ]);
    assert.equal(result.exitCode, 1);
    const byTenant = Object.fromEntries(result.json.tenants.map((row) => [row.tenant, row]));
    assert.equal(byTenant.t05!.status, 'failed');
    for (const id of ids.filter((id) => id !== 't05')) {
      assert.equal(byTenant[id]!.status, 'skipped', id);
      assert.match(byTenant[id]!.error!, /not started: the canary failed/);
      assert.ok(!(await recorded(id)).includes('007_canary.js'), `${id} untouched`);
    }
    const pretty = await cli(['db', 'migrate', '--all', '--canary-tenants', 't05']);
    assert.match(
      pretty.stdout,
      /Stopped after wave 1 of 2: the canary failed \(1 tenant\); 11 tenants not started/,
    );
    await sql('t05', 'DROP TABLE canary');
  });

  it('rollback --run undoes exactly what that run applied, refuses past newer ones without --force', async () => {
    assert.equal((await cli(['db', 'migrate', '--all'])).exitCode, 0);
    writeScripts(migrations(), { '008_last.js': createTableMigration('last') });
    const deploy = await json<MigrateJson & { run: string }>(['db', 'migrate', '-t', 't01', '-t', 't02']);
    assert.equal(deploy.exitCode, 0, deploy.stderr);
    // Something newer lands on t02 after the run; t03 was never part of it.
    writeScripts(migrations(), { '009_after.js': createTableMigration('after_deploy') });
    assert.equal((await cli(['db', 'migrate', '-t', 't02'])).exitCode, 0);
    const untouched = await recorded('t03');
    type Undo = {
      tenants: Array<{
        tenant: string;
        status: string;
        error: string | null;
        wouldRollBack: string[];
        rolledBack: Array<{ name: string }>;
      }>;
    };
    const dry = await json<Undo>(['db', 'rollback', '--run', deploy.json.run, '--dry-run']);
    assert.deepEqual(
      dry.json.tenants.map((row) => [row.tenant, row.status]),
      [
        ['t01', 'ok'],
        ['t02', 'failed'],
      ],
    );
    assert.deepEqual(dry.json.tenants[0]!.wouldRollBack, ['008_last.js']);
    assert.match(
      dry.json.tenants[1]!.error!,
      new RegExp(
        `1 migration was applied after run ${deploy.json.run} \\(009_after.js\\) — roll those back first, or pass --force`,
      ),
    );
    const undone = await json<Undo>(['db', 'rollback', '--run', deploy.json.run, '--force']);
    assert.equal(undone.exitCode, 0, undone.stderr);
    for (const row of undone.json.tenants) {
      assert.deepEqual(
        row.rolledBack.map((step) => step.name),
        ['008_last.js'],
        row.tenant,
      );
    }
    assert.ok(!(await recorded('t01')).includes('008_last.js'));
    assert.ok((await recorded('t02')).includes('009_after.js'), 'only what the run applied is undone');
    assert.deepEqual(await recorded('t03'), untouched, 'a tenant the run did not change is left alone');
    const notMigrate = await cli([
      'db',
      'rollback',
      '--run',
      undone.json.tenants.length ? deploy.json.run : '',
      '--tenant',
      't01',
    ]);
    assert.equal(notMigrate.exitCode, 2, 'selection flags do not go with --run');
  });
});

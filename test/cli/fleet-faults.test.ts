import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { MigrateJson } from '../../src/commands/db/migrate.js';
import type { StatusJson } from '../../src/commands/db/status.js';
import { Registry } from '../../src/lib/registry/index.js';
import { createTenant } from '../../src/lib/tenants/index.js';
import { BIN, runCli, runJson } from '../support/cli.js';
import { createTableMigration, writeScripts } from '../integration/migrations-fixture.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-servers.js';
import { createProject, type TestProject } from '../support/project.js';
import { mariadbAdmin, requireMariaDb } from '../support/services.js';
import { runInTerminal } from '../support/terminal.js';

const TABLES = [
  'accounts',
  'users',
  'projects',
  'tasks',
  'comments',
  'tags',
  'labels',
  'invoices',
  'lines',
  'notes',
  'events',
  'audit',
];

/** Twelve migrations, one table each: a run long enough to interrupt. */
function writeTwelveMigrations(project: TestProject): void {
  writeScripts(
    path.join(project.dir, 'migrations/tenant'),
    Object.fromEntries(
      TABLES.map((table, index) => [
        `${String(index + 1).padStart(3, '0')}_${table}.js`,
        createTableMigration(table),
      ]),
    ),
  );
}

async function createTenants(project: TestProject, ids: string[]): Promise<void> {
  const ctx = await project.context();
  try {
    await Registry.createDatabase(ctx.config.central);
    const limit = pLimit(6);
    await Promise.all(ids.map((id) => limit(() => createTenant(ctx, { id }))));
  } finally {
    await ctx.close();
  }
}

/** DROP + CREATE each tenant database (the tenant users' grants stay). */
async function emptyDatabases(project: TestProject, ids: string[], url?: string): Promise<void> {
  const admin = url
    ? (await import('knex')).default({ client: 'mysql2', connection: `${url}?multipleStatements=true` })
    : await mariadbAdmin();
  try {
    for (const id of ids) {
      const database = `${project.prefix}${id}`;
      await admin.raw(
        'DROP DATABASE IF EXISTS ??; CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
        [database, database],
      );
    }
  } finally {
    await admin.destroy();
  }
}

/** is_locked of every tenant database that has knex's lock table. */
async function locksHeld(project: TestProject, url?: string): Promise<string[]> {
  const admin = url
    ? (await import('knex')).default({ client: 'mysql2', connection: url })
    : await mariadbAdmin();
  try {
    const [tables] = (await admin.raw(
      "SELECT table_schema AS db FROM information_schema.tables WHERE table_name = 'knex_migrations_lock' AND table_schema LIKE ?",
      [`${project.prefix.replace(/_/g, '\\_')}%`],
    )) as [Array<{ db: string }>];
    const held: string[] = [];
    for (const { db } of tables) {
      const [rows] = (await admin.raw('SELECT is_locked FROM ??.knex_migrations_lock', [db])) as [
        Array<{ is_locked: number }>,
      ];
      if (rows.some((row) => Number(row.is_locked) === 1)) held.push(db);
    }
    return held;
  } finally {
    await admin.destroy();
  }
}

/** Processes whose command line contains `marker` (other than the pgrep itself). */
async function processesMatching(marker: string): Promise<number> {
  const result = await execa('pgrep', ['-f', marker], { reject: false });
  return result.stdout.split('\n').filter(Boolean).length;
}

describe('fleet runs in a terminal, interrupted and timed out (CLI, MariaDB)', function () {
  this.timeout(240_000);
  const ids = Array.from({ length: 30 }, (_, index) => `t${String(index + 1).padStart(2, '0')}`);
  let project: TestProject;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });

  before(async () => {
    await requireMariaDb();
    project = createProject({ driver: 'mariadb' });
    writeTwelveMigrations(project);
    await createTenants(project, ids);
  });
  after(() => project?.cleanup());

  it('a 30-tenant migrate in a 6-row pty: the overall line, never taller than the terminal, no failure', async () => {
    const run = await runInTerminal(['db', 'migrate', '--all', '-c', '8'], {
      cwd: project.dir,
      env: project.env,
      columns: 100,
      rows: 6,
    });
    assert.equal(run.exitCode, 0, run.raw.slice(-2000));
    assert.match(run.raw, /migrate \d+\/30 · \S*\d+ ok/);
    assert.match(run.raw, /… and \d+ more running \(8 at a time\)/, 'with 6 rows, the running list is cut');
    assert.equal(run.scrolledDuringView, 0, 'the live view never grew taller than the terminal');
    const text = [...run.scrollback, ...run.screen].join('\n');
    assert.match(text, /30 tenants: 30 ok in /);
    assert.doesNotMatch(text, /elapsed/, 'the live view cleared itself');
    const status = await runJson<StatusJson>(['db', 'status', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(status.json.totals.upToDate, 30);
  });

  it('Ctrl-C mid-run: running tenants finish their migration, no lock stays held, exit 130; a rerun converges', async () => {
    await emptyDatabases(project, ids);
    let typed = false;
    const run = await runInTerminal(['db', 'migrate', '--all', '-c', '4'], {
      cwd: project.dir,
      env: project.env,
      rows: 20,
      onOutput: (raw, type) => {
        if (!typed && /migrate [4-9]\/30/.test(raw)) {
          typed = true;
          type('\x03');
        }
      },
    });
    assert.ok(typed, 'the run was interrupted mid-way');
    assert.equal(run.exitCode, 130, run.raw.slice(-2000));
    const { text } = run;
    assert.match(text, /Interrupted by SIGINT: \d+ tenants ran .*never started; their locks are free/s);
    assert.deepEqual(await locksHeld(project), []);
    const status = await runJson<StatusJson>(['db', 'status', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(status.exitCode, 0);
    const behind = status.json.tenants.filter((tenant) => tenant.pending > 0);
    assert.ok(behind.length >= 10, `most tenants still have pending migrations (${behind.length})`);
    for (const tenant of status.json.tenants)
      assert.equal(tenant.applied + tenant.pending, 12, tenant.tenant);
    const rerun = await runJson<MigrateJson>(['db', 'migrate', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(rerun.exitCode, 0, rerun.stderr);
    const after = await runJson<StatusJson>(['db', 'status', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(after.json.totals.upToDate, 30);
  });

  it('SIGTERM mid-run: the same clean stop, exit 143', async () => {
    await emptyDatabases(project, ids);
    const child = execa('node', [BIN, 'db', 'migrate', '--all', '-c', '4'], {
      cwd: project.dir,
      env: project.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    let finished = 0;
    child.stderr!.on('data', (chunk: Buffer) => {
      const before = finished;
      finished += (chunk.toString().match(/^✓ /gm) ?? []).length;
      if (before < 3 && finished >= 3) child.kill('SIGTERM');
    });
    const result = await child;
    assert.equal(result.exitCode, 143, result.stderr);
    assert.match(result.stderr, /SIGTERM: starting no new tenant/);
    assert.deepEqual(await locksHeld(project), []);
    assert.equal((await cli(['db', 'migrate', '--all'])).exitCode, 0);
  });

  it('kill -9 mid-run leaves a lock the next run calls stale (holder gone, age); db unlock frees it', async () => {
    await emptyDatabases(project, ids.slice(0, 4));
    const child = execa(
      'node',
      [BIN, 'db', 'migrate', '-t', 't01', '-t', 't02', '-t', 't03', '-t', 't04', '-c', '4', '--verbose'],
      {
        cwd: project.dir,
        env: project.env,
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      },
    );
    // Killed once a migration has been recorded: the locks are held.
    child.stderr!.on('data', (chunk: Buffer) => {
      if (/^ {2}t0\d: 00[2-9]/m.test(chunk.toString())) child.kill('SIGKILL');
    });
    await child;
    const held = await locksHeld(project);
    assert.ok(held.length > 0, 'a kill -9 leaves locks held');
    const next = await runJson<MigrateJson>(['db', 'migrate', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(next.exitCode, 1);
    const locked = next.json.tenants.filter((tenant) => tenant.status === 'locked');
    assert.equal(locked.length, held.length);
    // The tenant that had recorded a migration names its dead holder; one killed between taking
    // the lock and recording who holds it (a window a loaded machine widens) can only say that.
    const stale =
      /migration lock is held since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?Z \(\d+s ago\) by afty pid \d+, which is no longer running — it looks stale: free it with afty db unlock -t t0\d/;
    const unrecorded =
      /migration lock is held by a run afty did not record \(plain knex, or an afty run killed as it took the lock\) — wait for it to finish; if no run is active, free it with afty db unlock -t t0\d/;
    for (const tenant of locked)
      assert.match(tenant.error!, new RegExp(`${stale.source}|${unrecorded.source}`));
    assert.ok(
      locked.some((tenant) => stale.test(tenant.error!)),
      locked.map((tenant) => tenant.error).join('\n'),
    );
    assert.equal((await cli(['db', 'unlock', '--all'])).exitCode, 0);
    assert.deepEqual(await locksHeld(project), []);
    // On MySQL the killed migration's DDL may have committed without its record: the rerun says so.
    const rerun = await runJson<MigrateJson>(['db', 'migrate', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    for (const tenant of rerun.json.tenants.filter((entry) => entry.status !== 'ok')) {
      assert.match(tenant.error!, /already exists; .*DDL it already ran is not rolled back/, tenant.tenant);
    }
  });

  it('a first Ctrl-C lets tenant run children finish; a second kills them at once (exit 130, none left)', async () => {
    // The shell computes the number, so only the sleep itself has it in its command line.
    const seconds = 3000 + (process.pid % 1000);
    const marker = `sleep ${seconds}`;
    let first = false;
    let second = false;
    let runningAfterFirst = -1;
    const started = performance.now();
    const run = await runInTerminal(
      [
        'tenant',
        'run',
        '-t',
        't01',
        '-t',
        't02',
        '-t',
        't03',
        '-c',
        '3',
        '--',
        'sh',
        '-c',
        `echo up; exec sleep $((${seconds} + 0))`,
      ],
      {
        cwd: project.dir,
        env: project.env,
        onOutput: (raw, type) => {
          if (!first && (raw.match(/\] up/g) ?? []).length >= 3) {
            first = true;
            type('\x03');
            setTimeout(() => {
              void processesMatching(marker).then((count) => {
                runningAfterFirst = count;
                second = true;
                type('\x03');
              });
            }, 800);
          }
        },
      },
    );
    assert.ok(second, run.raw.slice(-1000));
    assert.equal(runningAfterFirst, 3, 'the first Ctrl-C leaves the children running');
    assert.equal(run.exitCode, 130, run.raw.slice(-1000));
    assert.ok(performance.now() - started < 20_000, 'the second Ctrl-C does not wait for them');
    await sleep(200);
    assert.equal(await processesMatching(marker), 0, 'no child outlives afty');
  });

  it('--timeout kills a tenant run command that overstays (status timeout, no process left)', async () => {
    const seconds = 4000 + (process.pid % 1000);
    const started = performance.now();
    const run = await runJson<{ tenants: Array<{ status: string; error: string }> }>(
      ['tenant', 'run', '-t', 't01', '--timeout', '1s', '--', 'sh', '-c', `exec sleep $((${seconds} + 0))`],
      { cwd: project.dir, env: project.env },
    );
    assert.equal(run.exitCode, 1, run.stderr);
    assert.equal(run.json.tenants[0]!.status, 'timeout');
    assert.ok(performance.now() - started < 10_000);
    await sleep(200);
    assert.equal(await processesMatching(`sleep ${seconds}`), 0);
  });

  it('--timeout gives up on a hanging tenant (status timeout, lock freed); the others finish', async () => {
    writeScripts(path.join(project.dir, 'migrations/tenant'), {
      '013_slow.js': `export async function up(knex) {
  if (knex.client.config.connection.database.endsWith('t05')) await knex.raw('SELECT SLEEP(30)');
  await knex.schema.createTable('slow', (t) => t.increments('id'));
}
export async function down(knex) {
  await knex.schema.dropTable('slow');
}
`,
    });
    const started = performance.now();
    const run = await runJson<MigrateJson>(['db', 'migrate', '-t', 't05', '-t', 't06', '--timeout', '2s'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.ok(performance.now() - started < 15_000, 'no wait for the hanging statement');
    assert.equal(run.exitCode, 1, run.stderr);
    const [slow, other] = run.json.tenants;
    assert.equal(slow!.status, 'timeout');
    assert.equal(slow!.step, '013_slow.js');
    assert.match(slow!.error!, /timed out after 2s/);
    assert.equal(other!.status, 'ok');
    assert.equal(run.json.totals.timeout, 1);
    assert.deepEqual(await locksHeld(project), []);
  });
});

describe('a server that stops answering mid-run (private mariadbd frozen with SIGSTOP)', function () {
  this.timeout(180_000);
  let server: PrivateMariaDb;
  let project: TestProject;
  const ids = ['f1', 'f2', 'f3', 'f4'];

  before(async () => {
    await requireMariaDb();
    server = await startPrivateMariaDb();
    project = createProject({
      driver: 'mariadb',
      config: { timeouts: { queryMs: 1000 } },
    });
    // The registry stays on the shared server; the tenants live on the private one.
    const config = { ...project.config, servers: { default: server.url } };
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(project.dir, 'afty.config.json'), JSON.stringify(config));
    writeScripts(path.join(project.dir, 'migrations/tenant'), {
      '001_first.js': createTableMigration('first'),
      // Marks that the run got here, then takes a while: the test freezes the server meanwhile.
      '002_slow.js': `import { writeFileSync } from 'node:fs';
export async function up(knex) {
  writeFileSync(${JSON.stringify(project.dir)} + '/reached-' + knex.client.config.connection.database, '');
  await knex.raw('SELECT SLEEP(3)');
}
export async function down() {}
`,
    });
    await createTenants(project, ids);
  });
  after(async () => {
    server?.thaw();
    await project?.cleanup();
    await server?.stop();
  });

  const reached = () => readdirSync(project.dir).filter((name) => name.startsWith('reached-')).length;

  it('mid-migrate: afty exits 3 within the query timeout, never hangs; after a restart the lock is named stale', async () => {
    const child = execa('node', [BIN, 'db', 'migrate', '--all', '-c', '2', '--json'], {
      cwd: project.dir,
      env: project.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    while (reached() < 2) await sleep(50);
    server.freeze();
    const frozenAt = performance.now();
    const result = await child;
    const waited = performance.now() - frozenAt;
    server.thaw();
    assert.equal(result.exitCode, 3, result.stderr);
    assert.ok(waited < 15_000, `exited ${Math.round(waited)} ms after the freeze`);
    const json = JSON.parse(result.stdout) as MigrateJson;
    assert.deepEqual(
      json.tenants.map((tenant) => tenant.status),
      ['failed', 'failed', 'failed', 'failed'],
    );
    assert.match(
      json.tenants[0]!.error!,
      /server 127\.0\.0\.1:\d+ stopped answering: a query got no reply for \d+s/,
    );
    assert.equal(json.tenants[0]!.step, '002_slow.js');
    // The tenants that had not started fail at once on the dead server, not after a timeout each.
    assert.match(json.tenants[2]!.error!, /stopped answering/);
    // The frozen server kept the locks of the two tenants it froze in: the next run names them stale.
    const next = await runJson<MigrateJson>(['db', 'migrate', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    const locked = next.json.tenants.filter((tenant) => tenant.status === 'locked');
    assert.equal(locked.length, 2, next.stdout);
    for (const tenant of locked) assert.match(tenant.error!, /which is no longer running — it looks stale/);
    assert.equal(
      (await runCli(['db', 'unlock', '--all'], { cwd: project.dir, env: project.env })).exitCode,
      0,
    );
    const converged = await runJson<MigrateJson>(['db', 'migrate', '--all'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(converged.exitCode, 0, converged.stderr);
  });

  it('mid-backup: exits 3 within the query timeout, kills mariadb-dump, leaves no archive', async () => {
    // Enough rows that the dump streams for a while.
    await server.sql(
      `USE ${project.prefix}f1; CREATE TABLE big (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT);
       INSERT INTO big (body) SELECT REPEAT('x', 2000) FROM seq_1_to_20000;`,
    );
    const child = execa('node', [BIN, 'backup', 'create', '-t', 'f1', '--no-compress'], {
      cwd: project.dir,
      env: project.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    const dumping = async () => (await processesMatching(`${project.prefix}f1`)) > 0;
    while (!(await dumping())) await sleep(20);
    await sleep(100);
    server.freeze();
    const frozenAt = performance.now();
    const result = await child;
    const waited = performance.now() - frozenAt;
    server.thaw();
    assert.equal(result.exitCode, 3, result.stderr);
    assert.ok(waited < 15_000, `exited ${Math.round(waited)} ms after the freeze`);
    assert.match(result.stdout + result.stderr, /stopped answering/);
    await sleep(500);
    assert.equal(await processesMatching(`${project.prefix}f1`), 0, 'no mariadb-dump left behind');
    const directory = path.join(project.dir, 'backups/f1');
    const files = existsSync(directory) ? readdirSync(directory).filter((file) => !file.startsWith('.')) : [];
    assert.deepEqual(files, [], 'nothing that looks like a backup');
  });
});

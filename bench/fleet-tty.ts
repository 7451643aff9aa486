// npm run bench -- fleet-tty [REPS] [TENANTS] [NOOP_TENANTS]
// `afty db migrate --all` as an operator runs it — in a terminal (a real pty from util-linux
// `script`, 120×40) — against the same command piped to a file, side by side in one run:
//   1. 100 MariaDB tenants × 12 migrations (c=4), each rep from empty databases;
//   2. 1,000 tenants with nothing pending.
// Reports per case the wall-time ratio pty / piped (target ≤ 1.05), the bytes written to the
// terminal (target ≤ 200 kB for case 1) and the extra CPU the terminal costs, as a share of the
// run's wall time (target ≤ 5%): (user+sys in the pty − user+sys piped) / wall time in the pty.
import { execa } from 'execa';
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import pLimit from 'p-limit';
import { migrateTenant } from '../src/lib/migrations/migrator.js';
import { dumpSnapshot, loadSnapshot, readSnapshot, writeSnapshot } from '../src/lib/migrations/snapshot.js';
import { TenantMigrationSource } from '../src/lib/migrations/source.js';
import { BIN, median, ratio, report } from './_util.js';
import { prepareProject, resetDatabases, type BenchProject } from './migrate-fixture.js';

const reps = Number(process.argv[2] ?? 3);
const TENANTS = Number(process.argv[3] ?? 100);
const NOOP_TENANTS = Number(process.argv[4] ?? 1000);
const COLUMNS = 120;
const ROWS = 40;

interface Sample {
  wallMs: number;
  cpuMs: number;
  terminalBytes?: number;
}

const quote = (arg: string) => `'${arg.replace(/'/g, "'\\''")}'`;

/**
 * Runs afty under /usr/bin/time, either in a pty (`script` records every byte the terminal got)
 * or with stdout and stderr piped to files. Both leave CI unset, as an operator's shell does.
 */
async function runOnce(project: BenchProject, args: string[], terminal: boolean): Promise<Sample> {
  const timing = path.join(project.dir, 'time.txt');
  const env: NodeJS.ProcessEnv = { ...project.env, TERM: 'xterm-256color' };
  delete env.CI;
  delete env.NO_COLOR;
  const command = ['/usr/bin/time', '-f', '%e %U %S', '-o', timing, process.execPath, BIN, ...args]
    .map(quote)
    .join(' ');
  const started = performance.now();
  let terminalBytes: number | undefined;
  if (terminal) {
    const typescript = path.join(project.dir, 'typescript.log');
    const result = await execa(
      'script',
      ['-qec', `stty cols ${COLUMNS} rows ${ROWS}; ${command}`, typescript],
      { cwd: project.dir, env, extendEnv: false, reject: false, stdin: 'pipe' },
    );
    if (result.exitCode !== 0)
      throw new Error(`afty in a pty exited ${result.exitCode}: ${result.stdout.slice(-400)}`);
    terminalBytes = statSync(typescript).size;
    rmSync(typescript);
  } else {
    const out = path.join(project.dir, 'piped.log');
    const result = await execa('sh', ['-c', `${command} >${quote(out)} 2>&1`], {
      cwd: project.dir,
      env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    if (result.exitCode !== 0)
      throw new Error(`afty piped exited ${result.exitCode}: ${readFileSync(out, 'utf8').slice(-400)}`);
  }
  const wallMs = performance.now() - started;
  const [, user, sys] = readFileSync(timing, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallMs, cpuMs: (user! + sys!) * 1000, terminalBytes };
}

/** Alternates pty and piped runs (rotating which goes first), `before` resetting the state each time. */
async function measure(project: BenchProject, args: string[], before: () => Promise<void>) {
  const tty: Sample[] = [];
  const piped: Sample[] = [];
  for (let rep = 0; rep < reps; rep += 1) {
    for (const terminal of rep % 2 ? [false, true] : [true, false]) {
      await before();
      (terminal ? tty : piped).push(await runOnce(project, args, terminal));
    }
  }
  const ttyMs = median(tty.map((sample) => sample.wallMs));
  const pipedMs = median(piped.map((sample) => sample.wallMs));
  const extraCpu = median(tty.map((sample) => sample.cpuMs)) - median(piped.map((sample) => sample.cpuMs));
  return {
    ttyMs: Math.round(ttyMs),
    pipedMs: Math.round(pipedMs),
    ttyVsPiped: ratio(ttyMs, pipedMs),
    terminalBytes: median(tty.map((sample) => sample.terminalBytes!)),
    terminalCpuShare: Math.round((Math.max(0, extraCpu) / ttyMs) * 1000) / 10,
    runs: {
      tty: tty.map((sample) => Math.round(sample.wallMs)),
      piped: piped.map((sample) => Math.round(sample.wallMs)),
      ttyCpu: tty.map((sample) => Math.round(sample.cpuMs)),
      pipedCpu: piped.map((sample) => Math.round(sample.cpuMs)),
    },
  };
}

const migrate = await prepareProject('tty', TENANTS);
const fromEmpty = async () => {
  await resetDatabases(migrate.databases);
  await new Promise((resolve) => setTimeout(resolve, 1000));
};
const pending = await measure(migrate, ['db', 'migrate', '--all', '--concurrency', '4'], fromEmpty);
await migrate.cleanup();

const noop = await prepareProject('ttynoop', NOOP_TENANTS);
const ctx = await noop.context();
try {
  // Every tenant fully migrated: one by replay, the rest from its snapshot.
  const server = ctx.servers.get('default');
  const target = (database: string) => ({ tenant: database, location: server.tenantLocation(database) });
  await migrateTenant(target(noop.databases[0]!), new TenantMigrationSource(ctx.config.migrations.directory));
  writeSnapshot(
    ctx.config.migrations.snapshot,
    (await dumpSnapshot(target(noop.databases[0]!), { rows: true })).sql,
  );
  const snapshot = readSnapshot(ctx.config.migrations.snapshot)!;
  const limit = pLimit(8);
  await Promise.all(
    noop.databases.slice(1).map((database) => limit(() => loadSnapshot(target(database), snapshot))),
  );
} finally {
  await ctx.close();
}
const nothingPending = await measure(noop, ['db', 'migrate', '--all'], async () => {});
await noop.cleanup();

report('fleet-tty', {
  command: 'npm run bench -- fleet-tty',
  terminal: `${COLUMNS}x${ROWS} pty (util-linux script)`,
  reps,
  targets: { ttyVsPiped: '≤ 1.05', terminalBytes: '≤ 200000 (pending case)', terminalCpuShare: '≤ 5 (%)' },
  pending: { tenants: TENANTS, migrations: 12, concurrency: 4, ...pending },
  nothingPending: { tenants: NOOP_TENANTS, ...nothingPending },
});

// npm run bench -- provision [TENANTS]
// Schema for a new MariaDB tenant (12 migrations with FKs and indexes), per tenant, one at a time:
//   afty from the snapshot (load + check nothing newer is pending)  vs  replaying the migrations
//   vs  the raw load `mariadb DB < schema.sql`.
// Targets: snapshot ≤ 1.2× the raw SQL load, and ≥ 2× faster than replay.
import { execa } from 'execa';
import { median, ratio, report } from './_util.js';
import { migrateTenant } from '../src/lib/migrations/migrator.js';
import { dumpSnapshot, provisionSchema, writeSnapshot } from '../src/lib/migrations/snapshot.js';
import { TenantMigrationSource } from '../src/lib/migrations/source.js';
import { prepareProject, resetDatabases, timeCommand } from './migrate-fixture.js';

const TENANTS = Number(process.argv[2] ?? 30);

const project = await prepareProject('provision', TENANTS);
const ctx = await project.context();
const server = ctx.servers.get('default');
const target = (database: string) => ({ tenant: database, location: server.tenantLocation(database) });
const source = new TenantMigrationSource(ctx.config.migrations.directory);
const snapshotFile = ctx.config.migrations.snapshot;
const client = (await execa('sh', ['-c', 'command -v mariadb || command -v mysql'])).stdout.trim();

async function each(work: (database: string) => Promise<unknown>): Promise<number[]> {
  await resetDatabases(project.databases);
  const times: number[] = [];
  for (const database of project.databases) {
    const started = performance.now();
    await work(database);
    times.push(performance.now() - started);
  }
  return times;
}

try {
  await migrateTenant(target(project.databases[0]!), source);
  writeSnapshot(snapshotFile, (await dumpSnapshot(target(project.databases[0]!), { rows: true })).sql);
  // Warm-up: modules loaded once per process, as in a real run.
  await provisionSchema(target(project.databases[1]!), source, snapshotFile);

  const replay = await each((database) => migrateTenant(target(database), source));
  const snapshot = await each((database) => provisionSchema(target(database), source, snapshotFile));
  const raw = await each((database) =>
    timeCommand(client, ['-h', '127.0.0.1', '-u', 'root', database], {
      cwd: project.dir,
      inputFile: snapshotFile,
    }),
  );
  const snapshotMs = median(snapshot);
  const replayMs = median(replay);
  const rawMs = median(raw);
  report('provision', {
    command: 'npm run bench -- provision',
    tenants: TENANTS,
    migrations: 12,
    snapshotMsPerTenant: Math.round(snapshotMs * 10) / 10,
    replayMsPerTenant: Math.round(replayMs * 10) / 10,
    rawSqlMsPerTenant: Math.round(rawMs * 10) / 10,
    snapshotVsRaw: ratio(snapshotMs, rawMs),
    replayVsSnapshot: ratio(replayMs, snapshotMs),
    targets: { snapshotVsRaw: '≤ 1.2', replayVsSnapshot: '≥ 2' },
  });
} finally {
  await ctx.close();
  await project.cleanup();
}

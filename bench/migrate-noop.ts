// npm run bench -- migrate-noop [REPS] [postgres]
// 1,000 MariaDB (or PostgreSQL) tenants, all migrated (12 migrations), nothing pending:
//   afty db migrate --all (default concurrency)  vs  a plain script that only reads each tenant's
//   knex_migrations at the same concurrency.
// Targets: afty ≤ 5 s on a 2-core machine, and ≤ 2× the plain script; with run records (the
// default) ≤ 1.10× the same command with runs.record off, measured alternately in the same run.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pLimit from 'p-limit';
import { dumpSnapshot, loadSnapshot, readSnapshot, writeSnapshot } from '../src/lib/migrations/snapshot.js';
import { TenantMigrationSource } from '../src/lib/migrations/source.js';
import { migrateTenant } from '../src/lib/migrations/migrator.js';
import { tenantLocation } from '../src/lib/tenants/index.js';
import { median, ratio, report } from './_util.js';
import {
  ENGINE,
  numericArgument,
  prepareProject,
  runAfty,
  timeCommand,
  writePlainScript,
} from './migrate-fixture.js';

const TENANTS = 1000;
const reps = numericArgument(3);

const project = await prepareProject('noop', TENANTS);
const ctx = await project.context();
try {
  // Setup: migrate one tenant, then give every other tenant the same schema through the snapshot,
  // each as its own user (on PostgreSQL the tables must belong to the tenant's role).
  const tenants = await (await ctx.registry()).listTenants();
  const target = (tenant: (typeof tenants)[number]) => ({
    tenant: tenant.id,
    location: tenantLocation(ctx, tenant),
  });
  await migrateTenant(target(tenants[0]!), new TenantMigrationSource(ctx.config.migrations.directory));
  const snapshotFile = ctx.config.migrations.snapshot;
  writeSnapshot(snapshotFile, (await dumpSnapshot(target(tenants[0]!), { rows: true })).sql);
  const snapshot = readSnapshot(snapshotFile)!;
  const limit = pLimit(8);
  await Promise.all(tenants.slice(1).map((tenant) => limit(() => loadSnapshot(target(tenant), snapshot))));
} finally {
  await ctx.close();
}

const databasesFile = path.join(project.dir, 'databases.json');
// The same project with run records off, for the records' own cost.
const noRecordsConfig = path.join(project.dir, 'afty.no-records.json');
writeFileSync(
  noRecordsConfig,
  JSON.stringify({
    ...JSON.parse(readFileSync(path.join(project.dir, 'afty.config.json'), 'utf8')),
    runs: { record: false },
  }),
);
writeFileSync(databasesFile, JSON.stringify(project.databases));

/** afty and the plain read at one concurrency, alternating, median of `reps`. */
async function measure(concurrency: number) {
  const plainScript = path.join(project.dir, `plain-read-${concurrency}.cjs`);
  writePlainScript(plainScript, concurrency, "await db('knex_migrations').select('name').orderBy('id');");
  const afty: number[] = [];
  const noRecords: number[] = [];
  const plain: number[] = [];
  const args = ['db', 'migrate', '--all', '--concurrency', String(concurrency)];
  for (let rep = 0; rep < reps; rep += 1) {
    afty.push(await runAfty(project, args));
    noRecords.push(await runAfty(project, [...args, '--config', noRecordsConfig]));
    plain.push(await timeCommand(process.execPath, [plainScript, databasesFile], { cwd: project.dir }));
  }
  const aftyMs = median(afty);
  const noRecordsMs = median(noRecords);
  const plainMs = median(plain);
  return {
    concurrency,
    aftyMs: Math.round(aftyMs),
    aftyWithoutRunRecordsMs: Math.round(noRecordsMs),
    plainReadMs: Math.round(plainMs),
    aftyVsPlain: ratio(aftyMs, plainMs),
    runRecordsCost: ratio(aftyMs, noRecordsMs),
    runs: {
      afty: afty.map(Math.round),
      withoutRunRecords: noRecords.map(Math.round),
      plain: plain.map(Math.round),
    },
  };
}

const results = [await measure(ctx.config.concurrency), await measure(8)];
await project.cleanup();
report(ENGINE === 'postgres' ? 'migrate-noop-postgres' : 'migrate-noop', {
  command: `npm run bench -- migrate-noop${ENGINE === 'postgres' ? ' postgres' : ''}`,
  engine: ENGINE,
  tenants: TENANTS,
  migrations: 12,
  reps,
  defaultConcurrency: ctx.config.concurrency,
  targets: { aftyMs: '≤ 5000', aftyVsPlain: '≤ 2', runRecordsCost: '≤ 1.10' },
  results,
});

// npm run bench -- migrate-fleet [REPS] [postgres]
// 200 MariaDB (or PostgreSQL) tenants, 12 migrations with FKs and indexes, concurrency 4:
//   afty db migrate --all  vs  a plain script calling the same up() functions (no lock, no bookkeeping)
//   vs  a shell loop of `knex migrate:latest` per tenant (what a Node user would write).
// Targets: afty ≤ 1.10× the plain script; ≥ 12× faster than the knex loop.
// Also measured, to show the floors: the plain script plus each part of the bookkeeping afty
// keeps — first knex's two tables, then also each migration in a transaction with its
// knex_migrations row (one more commit, i.e. a disk flush, per migration) — and how far the plain
// script itself is from the knex loop (no tool running the same DDL can beat the plain script).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { median, ratio, report, ROOT } from './_util.js';
import {
  ENGINE,
  ROOT_CLIENT,
  numericArgument,
  prepareProject,
  resetDatabases,
  runAfty,
  timeCommand,
  writePlainScript,
} from './migrate-fixture.js';

const TENANTS = 200;
const CONCURRENCY = 4;
const reps = numericArgument(3);

const project = await prepareProject('fleet', TENANTS);
const databasesFile = path.join(project.dir, 'databases.json');
writeFileSync(databasesFile, JSON.stringify(project.databases));

const KNEX_TABLES = `await db.schema.createTable('knex_migrations_lock', (t) => { t.increments('index').primary(); t.integer('is_locked'); });
      await db.schema.createTable('knex_migrations', (t) => { t.increments(); t.string('name'); t.integer('batch'); t.timestamp('migration_time'); });`;
const LOAD_MIGRATIONS = `const dir = ${JSON.stringify(project.migrationsDir)};
const migrations = require('node:fs').readdirSync(dir).sort().map((file) => require(require('node:path').join(dir, file)));`;
// The baseline: each tenant's migrations' up() in order on one connection, CONCURRENCY tenants at once.
const plainScript = path.join(project.dir, 'plain-migrate.cjs');
writePlainScript(
  plainScript,
  CONCURRENCY,
  'for (const migration of migrations) await migration.up(db);',
  LOAD_MIGRATIONS,
);
// The same, after creating knex's two tables as afty does (no lock, no rows).
const plainWithTablesScript = path.join(project.dir, 'plain-migrate-with-tables.cjs');
writePlainScript(
  plainWithTablesScript,
  CONCURRENCY,
  `${KNEX_TABLES}
      for (const migration of migrations) await migration.up(db);`,
  LOAD_MIGRATIONS,
);
// And with each migration's row committed with it, as knex and afty record them (no lock, no CLI).
const plainWithRowsScript = path.join(project.dir, 'plain-migrate-with-rows.cjs');
writePlainScript(
  plainWithRowsScript,
  CONCURRENCY,
  `${KNEX_TABLES}
      for (const [index, migration] of migrations.entries())
        await db.transaction(async (trx) => {
          await migration.up(trx);
          await trx('knex_migrations').insert({ name: String(index), batch: 1, migration_time: new Date() });
        });`,
  LOAD_MIGRATIONS,
);
writeFileSync(
  path.join(project.dir, 'knexfile.cjs'),
  `module.exports = { client: ${JSON.stringify(ROOT_CLIENT.client)}, connection: { ...${JSON.stringify(ROOT_CLIENT.connection)}, database: process.env.BENCH_DB }, migrations: { directory: './migrations' } };\n`,
);

/** Every run starts from empty databases whose previous tables were just dropped (same server state). */
async function fromEmpty(run: () => Promise<number>): Promise<number> {
  await resetDatabases(project.databases);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  return run();
}
const aftyRun = () => runAfty(project, ['db', 'migrate', '--all', '--concurrency', String(CONCURRENCY)]);
const plainRun = () => timeCommand(process.execPath, [plainScript, databasesFile], { cwd: project.dir });
const plainWithTablesRun = () =>
  timeCommand(process.execPath, [plainWithTablesScript, databasesFile], { cwd: project.dir });
const plainWithRowsRun = () =>
  timeCommand(process.execPath, [plainWithRowsScript, databasesFile], { cwd: project.dir });

await fromEmpty(plainRun); // warm-up, so the first measured reset drops full databases too
const afty: number[] = [];
const plain: number[] = [];
const plainWithTables: number[] = [];
const plainWithRows: number[] = [];
const sides: Array<[number[], () => Promise<number>]> = [
  [afty, aftyRun],
  [plain, plainRun],
  [plainWithTables, plainWithTablesRun],
  [plainWithRows, plainWithRowsRun],
];
for (let rep = 0; rep < reps; rep += 1) {
  // Rotate the order so no side always runs on a server that just dropped more.
  for (let turn = 0; turn < sides.length; turn += 1) {
    const [samples, run] = sides[(rep + turn) % sides.length]!;
    samples.push(await fromEmpty(run));
  }
}
const knexCli = path.join(ROOT, 'node_modules/knex/bin/cli.js');
const loop = await fromEmpty(() =>
  timeCommand(
    'bash',
    [
      '-c',
      `for db in $(node -e 'console.log(require("./databases.json").join(" "))'); do BENCH_DB=$db node ${knexCli} migrate:latest --knexfile knexfile.cjs >/dev/null || exit 1; done`,
    ],
    { cwd: project.dir },
  ),
);

await project.cleanup();

const aftyMs = median(afty);
const plainMs = median(plain);
const plainWithTablesMs = median(plainWithTables);
const plainWithRowsMs = median(plainWithRows);
report(ENGINE === 'postgres' ? 'migrate-fleet-postgres' : 'migrate-fleet', {
  command: `npm run bench -- migrate-fleet${ENGINE === 'postgres' ? ' postgres' : ''}`,
  engine: ENGINE,
  tenants: TENANTS,
  migrations: 12,
  concurrency: CONCURRENCY,
  reps,
  aftyMs: Math.round(aftyMs),
  plainUpMs: Math.round(plainMs),
  plainWithKnexTablesMs: Math.round(plainWithTablesMs),
  plainWithRowsMs: Math.round(plainWithRowsMs),
  knexLoopMs: Math.round(loop),
  aftyVsPlain: ratio(aftyMs, plainMs),
  knexLoopVsAfty: ratio(loop, aftyMs),
  targets: { aftyVsPlain: '≤ 1.10', knexLoopVsAfty: '≥ 12' },
  floors: {
    plainWithKnexTablesVsPlain: ratio(plainWithTablesMs, plainMs),
    plainWithRowsVsPlain: ratio(plainWithRowsMs, plainMs),
    aftyVsPlainWithRows: ratio(aftyMs, plainWithRowsMs),
    knexLoopVsPlain: ratio(loop, plainMs),
  },
  runs: {
    afty: afty.map(Math.round),
    plain: plain.map(Math.round),
    plainWithKnexTables: plainWithTables.map(Math.round),
    plainWithRows: plainWithRows.map(Math.round),
  },
});

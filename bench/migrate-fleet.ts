// npm run bench -- migrate-fleet [REPS]
// 200 MariaDB tenants, 12 migrations with FKs and indexes, concurrency 4:
//   afty db migrate --all  vs  a plain script calling the same up() functions (no lock, no bookkeeping)
//   vs  a shell loop of `knex migrate:latest` per tenant (what a Node user would write).
// Targets: afty ≤ 1.10× the plain script; ≥ 12× faster than the knex loop.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { median, ratio, report, ROOT } from './_util.js';
import {
  MARIADB,
  prepareProject,
  resetDatabases,
  runAfty,
  timeCommand,
  writePlainScript,
} from './migrate-fixture.js';

const TENANTS = 200;
const CONCURRENCY = 4;
const reps = Number(process.argv[2] ?? 3);

const project = await prepareProject('fleet', TENANTS);
const databasesFile = path.join(project.dir, 'databases.json');
writeFileSync(databasesFile, JSON.stringify(project.databases));

// The baseline: each tenant's migrations' up() in order on one connection, CONCURRENCY tenants at once.
const plainScript = path.join(project.dir, 'plain-migrate.cjs');
writePlainScript(
  plainScript,
  CONCURRENCY,
  'for (const migration of migrations) await migration.up(db);',
  `const dir = ${JSON.stringify(project.migrationsDir)};
const migrations = require('node:fs').readdirSync(dir).sort().map((file) => require(require('node:path').join(dir, file)));`,
);
writeFileSync(
  path.join(project.dir, 'knexfile.cjs'),
  `module.exports = { client: 'mysql2', connection: { ...${JSON.stringify(MARIADB)}, database: process.env.BENCH_DB }, migrations: { directory: './migrations' } };\n`,
);

/** Every run starts from empty databases whose previous tables were just dropped (same server state). */
async function fromEmpty(run: () => Promise<number>): Promise<number> {
  await resetDatabases(project.databases);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  return run();
}
const aftyRun = () => runAfty(project, ['db', 'migrate', '--all', '--concurrency', String(CONCURRENCY)]);
const plainRun = () => timeCommand(process.execPath, [plainScript, databasesFile], { cwd: project.dir });

await fromEmpty(plainRun); // warm-up, so the first measured reset drops full databases too
const afty: number[] = [];
const plain: number[] = [];
for (let rep = 0; rep < reps; rep += 1) {
  // Alternate the order so neither side always runs on a server that just dropped more.
  if (rep % 2 === 0) {
    afty.push(await fromEmpty(aftyRun));
    plain.push(await fromEmpty(plainRun));
  } else {
    plain.push(await fromEmpty(plainRun));
    afty.push(await fromEmpty(aftyRun));
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
report('migrate-fleet', {
  command: 'npm run bench -- migrate-fleet',
  tenants: TENANTS,
  migrations: 12,
  concurrency: CONCURRENCY,
  reps,
  aftyMs: Math.round(aftyMs),
  plainUpMs: Math.round(plainMs),
  knexLoopMs: Math.round(loop),
  aftyVsPlain: ratio(aftyMs, plainMs),
  knexLoopVsAfty: ratio(loop, aftyMs),
  targets: { aftyVsPlain: '≤ 1.10', knexLoopVsAfty: '≥ 12' },
  runs: { afty: afty.map(Math.round), plain: plain.map(Math.round) },
});

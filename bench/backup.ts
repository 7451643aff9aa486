// `afty backup create` on a ≥ 500 MB MariaDB tenant database vs
// `mariadb-dump --single-transaction | gzip -6 > file` on the same database.
// Targets: throughput ≥ 0.9× the shell pipeline, afty's peak RSS ≤ 120 MB.
// The database is generated once (INSERT … SELECT doubling) and reused by later runs;
// `npm run bench -- backup --drop` drops it and the scratch folder at the end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createKnex } from '../src/lib/servers/knex.js';
import { loadConfig } from '../src/lib/config/index.js';
import { Registry } from '../src/lib/registry/index.js';
import { BENCH_DIR, BIN, median, ratio, report } from './_util.js';

const TARGET_BYTES = Number(process.env.TARGET_MB ?? 500) * 1024 * 1024;
const RUNS = Number(process.env.RUNS ?? 3);
const DROP = process.argv.includes('--drop');
const SERVER = { host: '127.0.0.1', port: 3306, user: 'root' };
const TENANT = 'big';
const DATABASE = 'afty_bench_big';
const dir = path.join(BENCH_DIR, '.work/backup');
mkdirSync(dir, { recursive: true });
writeFileSync(
  path.join(dir, 'afty.config.json'),
  JSON.stringify({
    servers: { default: `mysql://${SERVER.user}@${SERVER.host}:${SERVER.port}` },
    tenancy: { databasePrefix: 'afty_bench_', tenantUsers: false },
    backup: { directory: 'backups' },
  }),
);

const admin = await createKnex({ driver: 'mysql', connection: SERVER });
async function databaseBytes(): Promise<number> {
  await admin.raw('ANALYZE TABLE ??.??', [DATABASE, 'events']);
  const [rows] = (await admin.raw(
    'SELECT COALESCE(SUM(data_length + index_length), 0) AS bytes FROM information_schema.tables WHERE table_schema = ?',
    [DATABASE],
  )) as [Array<{ bytes: number | string }>];
  return Number(rows[0]!.bytes);
}

await admin.raw('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4', [DATABASE]);
await admin.raw(
  'CREATE TABLE IF NOT EXISTS ??.?? (id BIGINT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, kind VARCHAR(16) NOT NULL, payload VARCHAR(400) NOT NULL, created_at DATETIME NOT NULL, KEY (account_id)) ENGINE=InnoDB',
  [DATABASE, 'events'],
);
let bytes = await databaseBytes();
if (bytes < TARGET_BYTES) {
  const generating = performance.now();
  await admin.raw('TRUNCATE TABLE ??.??', [DATABASE, 'events']);
  await admin.raw(
    "INSERT INTO ??.?? (account_id, kind, payload, created_at) SELECT seq % 997, ELT(1 + seq % 4, 'login', 'view', 'buy', 'logout'), CONCAT(MD5(seq), ' ', REPEAT(SHA1(seq), 4), ' ', MD5(seq * 7)), NOW() - INTERVAL seq MINUTE FROM ??.seq_1_to_4096",
    [DATABASE, 'events', DATABASE],
  );
  // Each round doubles the rows; fresh MD5s keep the data from compressing unrealistically well.
  while ((bytes = await databaseBytes()) < TARGET_BYTES) {
    await admin.raw(
      'INSERT INTO ??.?? (account_id, kind, payload, created_at) SELECT (account_id * 31 + 7) % 997, kind, CONCAT(MD5(RAND()), SUBSTRING(payload, 33)), created_at - INTERVAL 1 DAY FROM ??.??',
      [DATABASE, 'events', DATABASE, 'events'],
    );
  }
  console.error(
    `generated ${Math.round(bytes / 1048576)} MiB in ${Math.round((performance.now() - generating) / 1000)}s`,
  );
}
const [[{ rowCount }]] = (await admin.raw('SELECT COUNT(*) AS rowCount FROM ??.??', [
  DATABASE,
  'events',
])) as [[{ rowCount: number }]];

const config = await loadConfig({ cwd: dir, env: {} });
const registry = await Registry.open(config);
if (!(await registry.findTenant(TENANT))) {
  await registry.insertTenant({
    id: TENANT,
    name: 'Benchmark tenant',
    status: 'active',
    server: 'default',
    database: DATABASE,
    dbUser: null,
    dbPassword: null,
    settings: {},
    domains: [],
  });
}
await registry.close();

/** Runs a command under /usr/bin/time: wall time and the peak RSS it reports. */
function measure(command: string, args: string[]): { ms: number; peakRssMb: number; stdout: string } {
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '%M', command, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', NO_COLOR: '1' },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  return { ms, peakRssMb: Number(result.stderr.trim().split('\n').at(-1)) / 1024, stdout: result.stdout };
}

const shellFile = path.join(dir, 'shell.sql.gz');
const shell: number[] = [];
const afty: number[] = [];
const aftyRss: number[] = [];
let shellArchive = 0;
let aftyArchive = 0;
for (let run = 0; run < RUNS; run += 1) {
  const pipelineRun = measure('bash', [
    '-c',
    `set -o pipefail; mariadb-dump --single-transaction -h ${SERVER.host} -P ${SERVER.port} -u ${SERVER.user} ${DATABASE} | gzip -6 > ${shellFile}`,
  ]);
  shell.push(pipelineRun.ms);
  shellArchive = statSync(shellFile).size;
  rmSync(shellFile);

  const aftyRun = measure(process.execPath, [BIN, 'backup', 'create', '--tenant', TENANT, '--json']);
  afty.push(aftyRun.ms);
  aftyRss.push(aftyRun.peakRssMb);
  const created = JSON.parse(aftyRun.stdout) as { results: Array<{ value: { bytes: number } }> };
  aftyArchive = created.results[0]!.value.bytes;
  rmSync(path.join(dir, 'backups'), { recursive: true, force: true });
}

if (DROP) {
  await admin.raw('DROP DATABASE IF EXISTS ??', [DATABASE]);
  rmSync(dir, { recursive: true, force: true });
}
await admin.destroy();

const mb = bytes / 1048576;
/** Median time, throughput over the database size, and the archive written. */
const figures = (command: string, times: number[], archiveBytes: number) => ({
  command,
  medianMs: Math.round(median(times)),
  mibPerSecond: Math.round((mb / median(times)) * 10_000) / 10,
  archiveMib: Math.round(archiveBytes / 1048576),
});
report('backup', {
  database: { mib: Math.round(mb), rows: Number(rowCount) },
  runs: RUNS,
  shell: figures('mariadb-dump --single-transaction | gzip -6 > file', shell, shellArchive),
  afty: {
    ...figures('afty backup create --tenant big', afty, aftyArchive),
    maxPeakRssMb: Math.round(Math.max(...aftyRss)),
  },
  throughputRatio: ratio(median(shell), median(afty)),
  targets: { throughputRatio: 0.9, peakRssMb: 120 },
});

// `afty tenant move` of a ≥ 500 MB MariaDB tenant from the shared server to a private mariadbd vs
// `mariadb-dump --single-transaction … | mariadb` between the same two servers.
// Targets: afty's time ≤ 1.3× the shell pipeline's, afty's peak RSS ≤ 150 MB (/usr/bin/time).
// The source database is generated once (INSERT … SELECT doubling) and kept for later runs;
// `npm run bench -- move --drop` drops it at the end. The private server lives for the run only.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/lib/config/index.js';
import { Registry } from '../src/lib/registry/index.js';
import { createKnex } from '../src/lib/servers/knex.js';
import { startPrivateMariaDb } from '../test/support/private-servers.js';
import { BENCH_DIR, BIN, median, ratio, report } from './_util.js';

const TARGET_BYTES = Number(process.env.TARGET_MB ?? 500) * 1024 * 1024;
const RUNS = Number(process.env.RUNS ?? 3);
const DROP = process.argv.includes('--drop');
const SOURCE = { host: '127.0.0.1', port: 3306, user: 'root' };
const TENANT = 'big';
const DATABASE = 'afty_bench_move';
const dir = path.join(BENCH_DIR, '.work/move');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const admin = await createKnex({ driver: 'mysql', connection: SOURCE });
async function databaseBytes(): Promise<number> {
  await admin.raw('ANALYZE TABLE ??.??', [DATABASE, 'events']);
  const [rows] = (await admin.raw(
    'SELECT COALESCE(SUM(data_length + index_length), 0) AS bytes FROM information_schema.tables WHERE table_schema = ?',
    [DATABASE],
  )) as [Array<{ bytes: number | string }>];
  return Number(rows[0]!.bytes);
}

await admin.raw('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [
  DATABASE,
]);
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

// The target gets the shared server's buffer pool size, so neither side of the comparison is favoured.
const target = await startPrivateMariaDb({ extraArgs: ['--innodb-buffer-pool-size=128M'] });
const targetAdmin = await createKnex({
  driver: 'mysql',
  connection: { host: '127.0.0.1', port: target.port, user: 'root' },
});
try {
  writeFileSync(
    path.join(dir, 'afty.config.json'),
    JSON.stringify({
      central: `mysql://${SOURCE.user}@${SOURCE.host}:${SOURCE.port}/afty_bench_move_central`,
      servers: { main: `mysql://${SOURCE.user}@${SOURCE.host}:${SOURCE.port}`, priv: target.url },
      tenancy: { databasePrefix: 'afty_bench_', tenantUsers: false },
      backup: { directory: 'backups' },
    }),
  );
  await admin.raw('CREATE DATABASE IF NOT EXISTS afty_bench_move_central');
  const config = await loadConfig({ cwd: dir, env: {} });
  const registry = await Registry.open(config);
  await registry.deleteTenant(TENANT);
  await registry.insertTenant({
    id: TENANT,
    name: 'Benchmark tenant',
    status: 'active',
    server: 'main',
    database: DATABASE,
    dbUser: null,
    dbPassword: null,
    settings: {},
    domains: [],
  });

  /** Runs a command under /usr/bin/time: wall time and the peak RSS it reports. */
  const measure = (command: string, args: string[]) => {
    const started = process.hrtime.bigint();
    const result = spawnSync('/usr/bin/time', ['-f', '%M', command, ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
    });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
    return { ms, peakRssMb: Number(result.stderr.trim().split('\n').at(-1)) / 1024, stdout: result.stdout };
  };

  /** Puts the tenant back on the shared server: its data back under its name, the copy gone. */
  const moveBack = async (kept: string) => {
    await targetAdmin.raw('DROP DATABASE IF EXISTS ??', [DATABASE]);
    await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [DATABASE]);
    await admin.raw('RENAME TABLE ??.?? TO ??.??', [kept, 'events', DATABASE, 'events']);
    await admin.raw('DROP DATABASE ??', [kept]);
    await registry.updateTenant(TENANT, { server: 'main' });
  };

  const shell: number[] = [];
  const afty: number[] = [];
  const aftyRss: number[] = [];
  const downtime: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    await targetAdmin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [DATABASE]);
    shell.push(
      measure('bash', [
        '-c',
        `set -o pipefail; mariadb-dump --single-transaction --routines --triggers --hex-blob -h ${SOURCE.host} -P ${SOURCE.port} -u ${SOURCE.user} ${DATABASE} | mariadb --binary-mode -h 127.0.0.1 -P ${target.port} -u root ${DATABASE}`,
      ]).ms,
    );
    await targetAdmin.raw('DROP DATABASE ??', [DATABASE]);

    const moved = measure(process.execPath, [BIN, 'tenant', 'move', TENANT, '--to', 'priv', '--json']);
    afty.push(moved.ms);
    aftyRss.push(moved.peakRssMb);
    const result = (
      JSON.parse(moved.stdout) as { tenants: Array<{ keptSource: string; downtimeMs: number }> }
    ).tenants[0]!;
    downtime.push(result.downtimeMs);
    await moveBack(result.keptSource);
  }
  await registry.deleteTenant(TENANT);
  await registry.close();

  const mb = bytes / 1048576;
  report('move', {
    database: { mib: Math.round(mb), rows: Number(rowCount) },
    runs: RUNS,
    shell: {
      command: 'mariadb-dump --single-transaction --routines --triggers --hex-blob | mariadb',
      medianMs: Math.round(median(shell)),
    },
    afty: {
      command: 'afty tenant move big --to priv',
      medianMs: Math.round(median(afty)),
      medianDowntimeMs: Math.round(median(downtime)),
      maxPeakRssMb: Math.round(Math.max(...aftyRss)),
    },
    timeRatio: ratio(median(afty), median(shell)),
    targets: { timeRatio: 1.3, peakRssMb: 150 },
  });
} finally {
  await targetAdmin.destroy();
  await target.stop();
  await admin.raw('DROP DATABASE IF EXISTS afty_bench_move_central');
  if (DROP) await admin.raw('DROP DATABASE IF EXISTS ??', [DATABASE]);
  await admin.destroy();
  rmSync(dir, { recursive: true, force: true });
}

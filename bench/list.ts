// `afty tenant list --json` with 10,000 tenants (each with a domain) in the SQLite registry:
// wall time and peak RSS of the whole process. Targets: ≤ 1 s, ≤ 150 MB.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/lib/config/index.js';
import { Registry, toDbTime } from '../src/lib/registry/index.js';
import { BENCH_DIR, BIN, median, report } from './_util.js';

const TENANTS = Number(process.env.TENANTS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 5);
const dir = path.join(BENCH_DIR, '.work/list');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'afty.config.json'), '{}');

const config = await loadConfig({ cwd: dir, env: {} });
const registry = await Registry.open(config);
const now = toDbTime();
const tenants = Array.from({ length: TENANTS }, (_, index) => {
  const id = `tenant-${String(index).padStart(5, '0')}`;
  return {
    id,
    name: `Tenant ${index}`,
    status: index % 10 === 0 ? 'suspended' : 'active',
    server: 'default',
    database: `tenant_${id.replace(/-/g, '_')}`,
    settings: JSON.stringify({ plan: index % 3 ? 'pro' : 'free' }),
    created_at: now,
    updated_at: now,
  };
});
// Rows straight into the tables: the bench measures listing, not creating.
await registry.db.batchInsert('afty_tenants', tenants, 500);
await registry.db.batchInsert(
  'afty_domains',
  tenants.map((tenant) => ({
    domain: `${tenant.id}.example.com`,
    tenant_id: tenant.id,
    is_primary: true,
    created_at: now,
  })),
  500,
);
await registry.close();

const wall: number[] = [];
const rssMb: number[] = [];
for (let run = 0; run < RUNS; run += 1) {
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, BIN, 'tenant', 'list', '--json'], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  wall.push(Number(process.hrtime.bigint() - started) / 1e6);
  if (result.status !== 0) throw new Error(result.stderr);
  const listed = JSON.parse(result.stdout) as { total: number; tenants: unknown[] };
  if (listed.tenants.length !== TENANTS) throw new Error(`listed ${listed.tenants.length} of ${TENANTS}`);
  rssMb.push(Number(result.stderr.trim().split('\n').at(-1)) / 1024);
}
rmSync(dir, { recursive: true, force: true });
report('list', {
  tenants: TENANTS,
  runs: RUNS,
  medianWallMs: Math.round(median(wall)),
  maxPeakRssMb: Math.round(Math.max(...rssMb)),
  targets: { wallMs: 1000, peakRssMb: 150 },
});

// npm run bench -- startup [RUNS]
// Start-up time against a bare `node -e 0`: `afty --version` and `afty tenant --help` (answered
// before oclif loads), and single-tenant commands that open the registry and a tenant database
// on SQLite (`tenant list --json`, `tenant show`, `db status -t`). Interleaved, so machine noise
// hits every command alike; the median of RUNS (default 21) each, after one warm-up run (which
// also lets bin/bundle.js write its code cache). AFTY_BIN=path/to/bin/run.js measures another
// build (e.g. a checkout of an older commit) against the same fixture.
// Targets: ≤ 1.6× node -e 0 for --version and help, ≤ 2.5× for the database commands.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, BIN, ROOT, median, ratio, report } from './_util.js';

const RUNS = Number(process.argv[2] ?? 21);
const bin = path.resolve(process.env.AFTY_BIN ?? BIN);

// A SQLite project with the example migrations and one migrated tenant.
const dir = path.join(BENCH_DIR, '.work/startup');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
cpSync(path.join(ROOT, 'examples/migrations'), path.join(dir, 'migrations'), { recursive: true });
writeFileSync(
  path.join(dir, 'afty.config.json'),
  JSON.stringify({ migrations: { directory: 'migrations/tenant' } }),
);
const env: NodeJS.ProcessEnv = {
  ...process.env,
  CI: '1',
  NO_COLOR: '1',
  AFTY_SECRET: 'bench-startup-secret-0123456789',
};
delete env.AFTY_CONFIG;
delete env.AFTY_CENTRAL_URL;
const created = spawnSync(process.execPath, [bin, 'tenant', 'create', 'acme', '--migrate'], {
  cwd: dir,
  env,
  encoding: 'utf8',
});
if (created.status !== 0) throw new Error(`tenant create failed: ${created.stderr}`);

const BASELINE = 'node -e 0';
const FAST = ['afty --version', 'afty tenant --help'];
const DATABASE = ['afty tenant list --json', 'afty tenant show acme', 'afty db status -t acme'];
const commands: Record<string, string[]> = {
  [BASELINE]: ['-e', '0'],
  ...Object.fromEntries([...FAST, ...DATABASE].map((name) => [name, [bin, ...name.split(' ').slice(1)]])),
};

function timeOnce(args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: dir, env, stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
for (const args of Object.values(commands)) timeOnce(args); // file cache, code cache
for (let run = 0; run < RUNS; run += 1) {
  for (const [name, args] of Object.entries(commands)) samples[name]!.push(timeOnce(args));
}
const medianMs = Object.fromEntries(
  Object.entries(samples).map(([name, values]) => [name, Math.round(median(values) * 10) / 10]),
);
const ratios = Object.fromEntries(
  Object.keys(commands)
    .filter((name) => name !== BASELINE)
    .map((name) => [name, ratio(medianMs[name]!, medianMs[BASELINE]!)]),
);
report('startup', {
  bin,
  runs: RUNS,
  medianMs,
  ratios,
  targets: { [FAST.join(', ')]: '≤ 1.6× node -e 0', [DATABASE.join(', ')]: '≤ 2.5× node -e 0' },
  met: FAST.every((name) => ratios[name]! <= 1.6) && DATABASE.every((name) => ratios[name]! <= 2.5),
});

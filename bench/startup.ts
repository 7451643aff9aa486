// Start-up time: `afty --version` and `afty tenant --help` against `node -e 0`, interleaved so
// machine noise hits all three alike; median of RUNS each. Target: ≤ 1.6× node -e 0.
import { spawnSync } from 'node:child_process';
import { BIN, median, ratio, report } from './_util.js';

const RUNS = Number(process.env.RUNS ?? 15);
const commands: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'afty --version': [BIN, '--version'],
  'afty tenant --help': [BIN, 'tenant', '--help'],
};

function timeOnce(args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
for (const args of Object.values(commands)) timeOnce(args); // warm the file cache
for (let run = 0; run < RUNS; run += 1) {
  for (const [name, args] of Object.entries(commands)) samples[name]!.push(timeOnce(args));
}
const medians = Object.fromEntries(
  Object.entries(samples).map(([name, values]) => [name, Math.round(median(values) * 10) / 10]),
);
const baseline = medians['node -e 0']!;
report('startup', {
  runs: RUNS,
  medianMs: medians,
  ratioVersion: ratio(medians['afty --version']!, baseline),
  ratioTenantHelp: ratio(medians['afty tenant --help']!, baseline),
  target: '≤ 1.6× node -e 0',
});

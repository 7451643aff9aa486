// npm run bench -- shards [TENANTS]
// How evenly --shard I/N splits a fleet: a tenant's shard is a hash of its id alone (so N CI
// jobs need no coordination and adding tenants moves none), which makes shard sizes binomial:
// the spread around tenants/N is about sqrt(tenants/N). Prints, per N, the smallest and largest
// shard and the largest deviation from tenants/N, in tenants and in percent.
import { selectShard } from '../src/lib/fleet/rollout.js';
import { report } from './_util.js';

const TENANTS = Number(process.argv[2] ?? 10_000);
// Ids shaped like real ones: slugs and UUID-like strings.
const tenants = Array.from({ length: TENANTS }, (_, index) => ({
  id:
    index % 2
      ? `customer-${index}`
      : `${(index * 2654435761).toString(16).padStart(8, '0')}-4a1b-9c2d-${index}`,
  server: 'default',
}));
const results = [2, 3, 4, 8, 16, 32, 64].map((total) => {
  const sizes = Array.from(
    { length: total },
    (_, index) => selectShard(tenants, { index: index + 1, total, source: 'bench' }).length,
  );
  const even = TENANTS / total;
  const deviation = Math.max(...sizes.map((size) => Math.abs(size - even)));
  return {
    shards: total,
    even: Math.round(even * 10) / 10,
    smallest: Math.min(...sizes),
    largest: Math.max(...sizes),
    maxDeviation: Math.round(deviation),
    maxDeviationPercent: Math.round((deviation / even) * 1000) / 10,
    expectedSpread: Math.round(Math.sqrt(even * (1 - 1 / total))),
  };
});
report('shards', { command: 'npm run bench -- shards', tenants: TENANTS, results });

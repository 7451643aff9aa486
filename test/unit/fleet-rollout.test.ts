import assert from 'node:assert/strict';
import { planRollout, resolveShard, selectShard, shardOf } from '../../src/lib/fleet/rollout.js';

const fleet = (count: number, offset = 0) =>
  Array.from({ length: count }, (_, index) => ({ id: `tenant-${offset + index}`, server: 'default' }));

describe('fleet rollout: shards and waves', () => {
  it('shards cover every tenant exactly once and stay put when tenants are added', () => {
    const tenants = fleet(10_000);
    for (const total of [2, 3, 8]) {
      const seen = new Set<string>();
      for (let index = 1; index <= total; index += 1) {
        for (const tenant of selectShard(tenants, { index, total, source: 'test' })) {
          assert.ok(!seen.has(tenant.id));
          seen.add(tenant.id);
        }
      }
      assert.equal(seen.size, tenants.length);
    }
    const before = new Map(tenants.map((tenant) => [tenant.id, shardOf(tenant.id, 4)]));
    const grown = [...tenants, ...fleet(500, 10_000)];
    for (const tenant of grown.slice(0, 10_000)) assert.equal(shardOf(tenant.id, 4), before.get(tenant.id));
  });

  it('shard sizes at 10,000 tenants stay within 3 % of N/total', () => {
    const tenants = fleet(10_000);
    for (const total of [2, 4, 8, 16]) {
      const sizes = Array.from(
        { length: total },
        (_, index) => selectShard(tenants, { index: index + 1, total, source: 'test' }).length,
      );
      const even = tenants.length / total;
      for (const size of sizes)
        assert.ok(Math.abs(size - even) / even < 0.03 + 3 / Math.sqrt(even), `${total}: ${sizes.join(',')}`);
    }
  });

  it('reads the shard from the flag, Kubernetes Indexed Jobs or GitLab, in that order', () => {
    assert.deepEqual(resolveShard('2/4', {}), { index: 2, total: 4, source: '--shard' });
    assert.deepEqual(resolveShard(undefined, { JOB_COMPLETION_INDEX: '0', AFTY_SHARD_TOTAL: '3' }), {
      index: 1,
      total: 3,
      source: 'JOB_COMPLETION_INDEX',
    });
    assert.deepEqual(resolveShard(undefined, { JOB_COMPLETION_INDEX: '2' }, 5)?.index, 3);
    assert.deepEqual(resolveShard(undefined, { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '3' })?.index, 3);
    assert.equal(resolveShard(undefined, {}), undefined);
    for (const bad of ['0/4', '5/4', '2', '1/0', 'a/b'])
      assert.throws(() => resolveShard(bad, {}), /--shard/);
    assert.throws(() => resolveShard(undefined, { JOB_COMPLETION_INDEX: '1' }), /not how many shards/);
  });

  it('waves are cumulative, a stable spread sample, the named canary first', () => {
    const tenants = fleet(200);
    const plan = planRollout(tenants, {
      canary: 2,
      canaryTenants: ['tenant-7'],
      waves: '10%,50%,100%',
      pauseMs: 5,
    });
    assert.equal(plan.tenants[0]!.id, 'tenant-7');
    assert.deepEqual(plan.waves, { sizes: [2, 20, 100, 200], pauseMs: 5, canary: true });
    assert.deepEqual(
      planRollout(tenants, { canary: 2 }).tenants.map((tenant) => tenant.id),
      planRollout(tenants, { canary: 2 }).tenants.map((tenant) => tenant.id),
      'the same canary every time',
    );
    assert.notDeepEqual(
      plan.tenants.slice(1, 20).map((tenant) => tenant.id),
      tenants.slice(0, 19).map((tenant) => tenant.id),
    );
    assert.equal(planRollout(tenants, { maxFailures: '5%' }).maxFailures, 10);
    assert.throws(() => planRollout(tenants, { waves: '50%,10%' }), /bigger than the one before/);
    assert.throws(() => planRollout(tenants, { canaryTenants: ['nope'] }), /not in the selection/);
    assert.throws(() => planRollout(tenants, { pauseMs: 1000 }), /--wave-pause needs --waves or --canary/);
    assert.throws(() => planRollout(tenants, { maxFailures: '0' }), /at least 1/);
  });
});

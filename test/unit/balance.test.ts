import assert from 'node:assert/strict';
import { planBalance } from '../../src/lib/tenants/balance.js';

const servers = [
  { name: 'a', driver: 'mysql' },
  { name: 'b', driver: 'mysql' },
  { name: 'c', driver: 'mysql' },
];

describe('servers plan --balance: the moves it proposes', () => {
  it('by count: evens 6/0/0 out to 2/2/2, one move per tenant at most', () => {
    const tenants = Array.from({ length: 6 }, (_, index) => ({ id: `t${index}`, server: 'a', weight: 1 }));
    const plan = planBalance(servers, tenants, 'count');
    assert.deepEqual(
      plan.servers.map((server) => server.after),
      [2, 2, 2],
    );
    assert.equal(plan.moves.length, 4);
    assert.equal(new Set(plan.moves.map((move) => move.tenant)).size, 4);
  });

  it('by size: moves the tenant closest to half the gap, and stops when no move narrows it', () => {
    const tenants = [
      { id: 'big', server: 'a', weight: 900 },
      { id: 'mid', server: 'a', weight: 500 },
      { id: 'small', server: 'a', weight: 100 },
      { id: 'other', server: 'b', weight: 600 },
    ];
    const plan = planBalance(servers.slice(0, 2), tenants, 'size');
    // Gap 1500 - 600 = 900: "mid" (500) is closest to 450; then 1000 vs 1100, nothing fits under 100.
    assert.deepEqual(plan.moves, [{ tenant: 'mid', from: 'a', to: 'b', weight: 500 }]);
    assert.deepEqual(plan.servers, [
      { name: 'a', before: 1500, after: 1000 },
      { name: 'b', before: 600, after: 1100 },
    ]);
  });

  it('never moves between engines, never moves a fixed (excluded) tenant, proposes nothing when balanced', () => {
    const mixed = [
      { name: 'm', driver: 'mysql' },
      { name: 's', driver: 'sqlite' },
    ];
    const lopsided = [1, 2, 3].map((index) => ({ id: `t${index}`, server: 'm', weight: 1 }));
    assert.deepEqual(planBalance(mixed, lopsided, 'count').moves, []);
    const fixed = [
      { id: 'x', server: 'a', weight: 5, fixed: true },
      { id: 'y', server: 'a', weight: 1 },
    ];
    assert.deepEqual(
      planBalance(servers.slice(0, 2), fixed, 'size').moves.map((move) => move.tenant),
      ['y'],
    );
    const even = [
      { id: 'p', server: 'a', weight: 1 },
      { id: 'q', server: 'b', weight: 1 },
    ];
    assert.deepEqual(planBalance(servers.slice(0, 2), even, 'count').moves, []);
  });
});

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FleetInterrupt,
  fleetExitCode,
  runFleet,
  type FleetEvent,
  type FleetTenant,
} from '../../src/lib/fleet/index.js';
import { ServiceError } from '../../src/lib/errors.js';
import { checkpoint, currentScope, onAbort } from '../../src/lib/work-scope.js';

const tenants = (count: number, servers = ['a']): FleetTenant[] =>
  Array.from({ length: count }, (_, index) => ({
    id: `t${String(index).padStart(3, '0')}`,
    server: servers[index % servers.length]!,
  }));

/** Tracks how many tenants run at once, overall and per server, from the engine's own events. */
function concurrencyProbe() {
  const running = new Map<string, string>();
  let most = 0;
  const mostPerServer = new Map<string, number>();
  const order: string[] = [];
  const observer = (event: FleetEvent) => {
    if (event.type === 'tenant-started') {
      running.set(event.tenant, event.server);
      order.push(event.server);
      most = Math.max(most, running.size);
      const onServer = [...running.values()].filter((server) => server === event.server).length;
      mostPerServer.set(event.server, Math.max(mostPerServer.get(event.server) ?? 0, onServer));
    }
    if (event.type === 'tenant-finished') running.delete(event.result.tenant);
  };
  return { observer, most: () => most, mostPerServer, order };
}

describe('fleet engine: scheduler', () => {
  it('runs every tenant once, never more than --concurrency at a time, results in tenant order', async () => {
    const probe = concurrencyProbe();
    const seen: string[] = [];
    const outcome = await runFleet(
      tenants(20),
      async (tenant) => {
        seen.push(tenant.id);
        await sleep(5 + (Number(tenant.id.slice(1)) % 3) * 5);
        return tenant.id.toUpperCase();
      },
      { concurrency: 4, observer: probe.observer },
    );
    assert.equal(probe.most(), 4);
    assert.deepEqual(
      [...seen].sort(),
      tenants(20).map((tenant) => tenant.id),
    );
    assert.deepEqual(
      outcome.results.map((result) => result.value),
      tenants(20).map((tenant) => tenant.id.toUpperCase()),
    );
    assert.equal(outcome.totals.ok, 20);
    assert.equal(fleetExitCode(outcome.results), 0);
  });

  it('caps each server and interleaves servers instead of draining one first', async () => {
    const probe = concurrencyProbe();
    // All of server a's tenants come first in the list.
    const list = [
      ...tenants(8, ['a']),
      ...tenants(8, ['b']).map((tenant) => ({ ...tenant, id: `b${tenant.id}` })),
    ];
    await runFleet(list, () => sleep(10), {
      concurrency: 4,
      serverLimit: () => 1,
      observer: probe.observer,
    });
    assert.deepEqual(Object.fromEntries(probe.mostPerServer), { a: 1, b: 1 });
    assert.deepEqual(probe.order.slice(0, 4), ['a', 'b', 'a', 'b']);
  });

  it('keeps --concurrency busy across servers when one is capped', async () => {
    const probe = concurrencyProbe();
    const list = tenants(12, ['a', 'b', 'c', 'd']);
    await runFleet(list, () => sleep(10), {
      concurrency: 4,
      serverLimit: (server) => (server === 'a' ? 1 : undefined),
      observer: probe.observer,
    });
    assert.equal(probe.most(), 4);
    assert.equal(probe.mostPerServer.get('a'), 1);
  });

  it('--bail starts no tenant after the first failure; the rest are skipped with the reason', async () => {
    const outcome = await runFleet(
      tenants(10),
      async (tenant) => {
        if (tenant.id === 't002') throw new Error('boom');
        await sleep(5);
      },
      { concurrency: 1, bail: true },
    );
    assert.deepEqual(
      outcome.results.map((result) => result.status),
      ['ok', 'ok', 'failed', ...Array(7).fill('skipped')],
    );
    assert.match(outcome.results[5]!.error!, /not started: an earlier tenant failed \(--bail\)/);
    assert.equal(fleetExitCode(outcome.results), 1);
  });

  it('names the step a tenant failed in', async () => {
    const outcome = await runFleet(
      tenants(1),
      async (_tenant, progress) => {
        await progress.step('one', async () => undefined);
        progress.stepStarted('two');
        throw new Error('two broke');
      },
      { concurrency: 1 },
    );
    assert.equal(outcome.results[0]!.step, 'two');
    assert.equal(outcome.results[0]!.error, 'two broke');
  });

  it('a first interrupt starts nothing new and lets running work reach its next step boundary', async () => {
    const interrupt = new FleetInterrupt();
    const steps: string[] = [];
    const promise = runFleet(
      tenants(6),
      async (tenant) => {
        for (const step of ['s1', 's2', 's3']) {
          checkpoint(step);
          await sleep(30);
          steps.push(`${tenant.id}:${step}`);
        }
      },
      { concurrency: 2, interrupt },
    );
    await sleep(45);
    interrupt.receive('SIGINT');
    const outcome = await promise;
    assert.equal(outcome.interrupted, 'SIGINT');
    assert.deepEqual(
      outcome.results.map((result) => result.status),
      ['interrupted', 'interrupted', 'skipped', 'skipped', 'skipped', 'skipped'],
    );
    // Each running tenant finished the step it was in (s2), and started no other.
    assert.deepEqual(steps.sort(), ['t000:s1', 't000:s2', 't001:s1', 't001:s2']);
    assert.match(outcome.results[0]!.error!, /interrupted by SIGINT: stopped before s3/);
    assert.match(outcome.results[3]!.error!, /not started: interrupted by SIGINT/);
    assert.equal(fleetExitCode(outcome.results, outcome.interrupted), 130);
  });

  it('a second interrupt aborts work in flight: what it registered is closed', async () => {
    const interrupt = new FleetInterrupt();
    let closed = 0;
    const promise = runFleet(
      tenants(2),
      () =>
        new Promise<void>((_resolve, reject) => {
          onAbort((reason) => {
            closed += 1;
            reject(new Error(`connection closed: ${reason.message}`));
          });
        }),
      { concurrency: 2, interrupt },
    );
    await sleep(10);
    interrupt.receive('SIGTERM');
    interrupt.receive('SIGTERM');
    const outcome = await promise;
    assert.equal(closed, 2);
    assert.deepEqual(
      outcome.results.map((result) => [result.status, result.error]),
      [
        ['interrupted', 'aborted by a second SIGTERM'],
        ['interrupted', 'aborted by a second SIGTERM'],
      ],
    );
    assert.equal(fleetExitCode(outcome.results, outcome.interrupted), 143);
  });

  it('--timeout aborts one tenant (status timeout) and leaves the others alone', async () => {
    const outcome = await runFleet(
      tenants(3),
      (tenant) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, tenant.id === 't001' ? 5000 : 20);
          onAbort((reason) => {
            clearTimeout(timer);
            reject(reason);
          });
        }),
      { concurrency: 3, timeoutMs: 200 },
    );
    assert.deepEqual(
      outcome.results.map((result) => result.status),
      ['ok', 'timeout', 'ok'],
    );
    assert.match(outcome.results[1]!.error!, /timed out after 200ms/);
    assert.equal(fleetExitCode(outcome.results), 1);
  });

  it('gives up on work that ignores its abort after the grace period', async () => {
    const started = performance.now();
    const outcome = await runFleet(tenants(1), () => new Promise(() => {}), {
      concurrency: 1,
      timeoutMs: 50,
      abortGraceMs: 100,
    });
    assert.equal(outcome.results[0]!.status, 'timeout');
    assert.ok(performance.now() - started < 2000, 'never a hang');
  });

  it('each tenant has its own scope; nothing outside a fleet run can be aborted', async () => {
    assert.equal(currentScope(), undefined);
    const signals = new Set<AbortSignal>();
    await runFleet(
      tenants(3),
      async () => {
        signals.add(currentScope()!.abort);
      },
      { concurrency: 3 },
    );
    assert.equal(signals.size, 3);
  });

  it('exit 3 when no tenant could reach its server, 1 when some could', () => {
    const down = {
      tenant: 'a',
      server: 's',
      status: 'failed' as const,
      durationMs: 1,
      cause: new ServiceError('down'),
    };
    const ok = { tenant: 'b', server: 's', status: 'ok' as const, durationMs: 1 };
    assert.equal(fleetExitCode([down, { ...down, tenant: 'c' }]), 3);
    assert.equal(fleetExitCode([down, ok]), 1);
  });

  it('--max-failures stops starting tenants once that many failed', async () => {
    const outcome = await runFleet(
      tenants(12),
      async (tenant) => {
        if (Number(tenant.id.slice(1)) % 2 === 1) throw new Error('odd');
      },
      { concurrency: 1, maxFailures: 3 },
    );
    const statuses = outcome.results.map((result) => result.status);
    assert.equal(statuses.filter((status) => status === 'failed').length, 3);
    assert.deepEqual(statuses.slice(6), Array(6).fill('skipped'));
    assert.match(outcome.results[11]!.error!, /not started: 3 tenants failed \(--max-failures 3\)/);
  });

  it('a failing canary stops the run before any other tenant starts', async () => {
    const started: string[] = [];
    const outcome = await runFleet(
      tenants(10),
      async (tenant) => {
        started.push(tenant.id);
        if (tenant.id === 't001') throw new Error('bad migration');
      },
      { concurrency: 4, waves: { sizes: [2], canary: true } },
    );
    assert.deepEqual(started.sort(), ['t000', 't001']);
    assert.deepEqual(outcome.stoppedAt, { wave: 1, waves: 2, reason: 'the canary failed (1 tenant)' });
    assert.equal(outcome.totals.skipped, 8);
    assert.match(outcome.results[5]!.error!, /not started: the canary failed/);
    assert.equal(fleetExitCode(outcome.results), 1);
  });

  it('waves grow, pause between them, and a failure stops the next wave', async () => {
    const waveOf = new Map<string, number>();
    let wave = 0;
    const observer = (event: FleetEvent) => {
      if (event.type === 'wave-started') wave = event.wave;
      if (event.type === 'tenant-started') waveOf.set(event.tenant, wave);
    };
    const started = performance.now();
    const fine = await runFleet(tenants(10), async () => undefined, {
      concurrency: 4,
      waves: { sizes: [1, 3, 6], pauseMs: 50 },
      observer,
    });
    assert.equal(fine.totals.ok, 10);
    assert.ok(performance.now() - started >= 150, 'three pauses between four waves');
    assert.deepEqual(
      tenants(10).map((tenant) => waveOf.get(tenant.id)),
      [1, 2, 2, 3, 3, 3, 4, 4, 4, 4],
    );
    const broken = await runFleet(
      tenants(10),
      async (tenant) => {
        if (tenant.id === 't002') throw new Error('no');
      },
      { concurrency: 4, waves: { sizes: [1, 3, 6] } },
    );
    assert.deepEqual(broken.stoppedAt, { wave: 2, waves: 4, reason: 'wave 2 of 4 ended with 1 failure' });
    assert.equal(broken.totals.skipped, 7);
  });
});

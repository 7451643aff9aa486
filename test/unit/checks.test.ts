import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, type TestSuites } from 'junit2json';
import {
  reportExitCode,
  runChecks,
  selectCategories,
  TEST_CATEGORIES,
  TEST_CHECKS,
  testOptions,
  DIAGNOSE_CHECKS,
  type Check,
  type CheckContext,
  type CheckReport,
  type CheckResult,
} from '../../src/lib/checks/index.js';
import { latencyStats, sampleTargets } from '../../src/lib/checks/probes.js';
import { renderReport } from '../../src/lib/ui/check-reporters.js';
import { insecureSettings } from '../../src/lib/checks/diagnose.js';
import { grantViolations, parseGrants } from '../../src/lib/servers/engines/mysql/probes.js';
import { loadConfig, type AftyConfig } from '../../src/lib/config/index.js';
import { ServiceError } from '../../src/lib/errors.js';
import type { CheckOutcome } from '../../src/lib/checks/types.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';

/** Temporary folders holding test config files, removed after the run. */
const configDirs: string[] = [];
after(() => {
  for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
});

/** Loads config from a temporary folder holding `file` as afty.config.json (kept until the run ends). */
async function configFrom(file: unknown, env: NodeJS.ProcessEnv = {}): Promise<AftyConfig> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'afty-checks-config-'));
  configDirs.push(dir);
  writeFileSync(path.join(dir, 'afty.config.json'), JSON.stringify(file));
  return loadConfig({ cwd: dir, env });
}

function tenant(id: string): TenantRecord {
  return {
    id,
    name: id,
    status: 'active',
    statusReason: null,
    server: 'default',
    database: `t_${id}`,
    dbUser: null,
    dbPassword: null,
    settings: {},
    createdAt: '',
    updatedAt: '',
    lastMigratedAt: null,
    provisioning: null,
  };
}

/** A context for checks that touch nothing but the tenant list. */
function fakeContext(tenants: TenantRecord[]): CheckContext {
  return {
    afty: { servers: { names: ['default'] } } as unknown as CheckContext['afty'],
    options: { sample: 3, durationMs: 0, workers: 1, maxLatencyMs: 1, maxConnectMs: 1, maxErrorRate: 0 },
    selected: async () => tenants,
    fleet: async () => tenants,
    everyTenant: async () => tenants,
    redis: async () => undefined,
    shared: (_key, compute) => compute(),
  };
}

const passing: Check = {
  id: 'connections.fake',
  category: 'connections',
  title: 'always passes',
  remedy: 'nothing',
  scope: 'global',
  run: async () => ({ status: 'pass', message: 'fine' }),
};

const failingFor = (bad: string): Check => ({
  id: 'isolation.fake',
  category: 'isolation',
  title: 'fails for one tenant',
  remedy: 'fix it',
  scope: 'tenant',
  run: async (_ctx, subject) =>
    subject.id === bad
      ? { status: 'fail', message: `${subject.id} leaks <&> "quoted"` }
      : { status: 'pass', message: 'ok' },
});

function report(results: CheckResult[]): CheckReport {
  const count = (status: string) => results.filter((result) => result.status === status).length;
  return {
    command: 'test',
    startedAt: '2026-01-01T00:00:00.000Z',
    categories: ['connections', 'isolation'],
    tenants: [],
    totals: { tenants: 3, total: 3, ok: 3, failed: 0, skipped: 0, locked: 0, timeout: 0, interrupted: 0 },
    interrupted: null,
    summary: {
      total: results.length,
      pass: count('pass'),
      warn: count('warn'),
      fail: count('fail'),
      skip: count('skip'),
      durationMs: 12,
    },
    results,
  };
}

describe('checks: runner', () => {
  const tenants = [tenant('alpha'), tenant('beta'), tenant('gamma')];

  it('gives one result per tenant for per-tenant checks, with the check remedy on failures', async () => {
    const results = await runChecks([passing, failingFor('beta')], fakeContext(tenants), { concurrency: 2 });
    assert.equal(results.length, 4);
    assert.deepEqual(
      results.map((result) => [result.id, result.tenant, result.status]),
      [
        ['connections.fake', null, 'pass'],
        ['isolation.fake', 'alpha', 'pass'],
        ['isolation.fake', 'beta', 'fail'],
        ['isolation.fake', 'gamma', 'pass'],
      ],
    );
    assert.equal(results[2]!.remedy, 'fix it');
    assert.equal(results[1]!.remedy, null);
    assert.equal(reportExitCode(results), 1);
  });

  it('--bail skips everything after the first failure', async () => {
    const results = await runChecks([failingFor('alpha'), passing], fakeContext(tenants), {
      concurrency: 1,
      bail: true,
    });
    assert.deepEqual(
      results.map((result) => result.status),
      ['fail', 'skip', 'skip', 'skip'],
    );
  });

  it('turns a thrown error into a failure; an unreachable service means exit 3', async () => {
    const throwing: Check = {
      ...passing,
      run: async () => Promise.reject(new ServiceError('cannot reach Redis', { hint: 'start it' })),
    };
    const [result] = await runChecks([throwing], fakeContext(tenants), { concurrency: 1 });
    assert.equal(result!.status, 'fail');
    assert.equal(result!.message, 'cannot reach Redis');
    assert.equal(result!.remedy, 'start it');
    assert.equal(reportExitCode([result!]), 3);
  });

  it('exits 0 when only warnings and skips', () => {
    const base = {
      id: 'x',
      category: 'cache',
      title: '',
      tenant: null,
      server: null,
      message: '',
      details: {},
      durationMs: 0,
      remedy: null,
    } as const;
    assert.equal(
      reportExitCode([
        { ...base, status: 'warn' },
        { ...base, status: 'skip' },
      ]),
      0,
    );
  });

  it('with fix, repairs and checks again', async () => {
    let broken = true;
    const fixable: Check = {
      ...passing,
      run: async (): Promise<CheckOutcome> =>
        broken ? { status: 'fail', message: 'broken' } : { status: 'pass', message: 'fine' },
      fix: async () => {
        broken = false;
        return 'repaired';
      },
    };
    const [result] = await runChecks([fixable], fakeContext(tenants), { concurrency: 1, fix: true });
    assert.equal(result!.status, 'pass');
    assert.deepEqual(result!.fix, { applied: true, message: 'repaired' });
  });
});

describe('checks: catalogue', () => {
  it('has unique ids named <category>.<name>, each with a title and a remedy', () => {
    const all = [...Object.values(TEST_CHECKS).flat(), ...DIAGNOSE_CHECKS];
    const byId = new Map(all.map((check) => [check.id, check]));
    for (const check of byId.values()) {
      assert.match(check.id, new RegExp(`^${check.category}\\.[a-z-]+$`));
      assert.ok(check.title && check.remedy, check.id);
    }
    for (const category of TEST_CATEGORIES) assert.ok(TEST_CHECKS[category].length > 0, category);
  });

  it('all (or nothing) is every category; unknown names are exit 2', () => {
    assert.deepEqual(selectCategories([]), [...TEST_CATEGORIES]);
    assert.deepEqual(selectCategories(['all']), [...TEST_CATEGORIES]);
    assert.deepEqual(selectCategories(['security', 'cache']), ['cache', 'security']);
    assert.throws(
      () => selectCategories(['speed']),
      (error: Error & { exitCode?: number }) => error.exitCode === 2,
    );
  });
});

describe('checks: options', () => {
  const flags = { durationS: 2, workers: 3 };

  it('takes flags over the config checks section over the defaults', () => {
    assert.deepEqual(testOptions({}, flags), {
      sample: 3,
      durationMs: 2000,
      workers: 3,
      maxLatencyMs: 100,
      maxConnectMs: 1000,
      maxErrorRate: 0.01,
    });
    const config = { sample: 5, maxLatencyMs: 50, maxConnectMs: 400, maxErrorRate: 0 };
    assert.deepEqual(testOptions(config, flags), {
      ...testOptions({}, flags),
      sample: 5,
      maxLatencyMs: 50,
      maxConnectMs: 400,
      maxErrorRate: 0,
    });
    const flagged = testOptions(config, { ...flags, sample: 1, maxLatencyMs: 7, maxErrorRate: '2.5' });
    assert.equal(flagged.sample, 1);
    assert.equal(flagged.maxLatencyMs, 7);
    assert.equal(flagged.maxErrorRate, 0.025);
  });

  it('rejects an error rate that is not a percentage (exit 2)', () => {
    for (const value of ['', 'x', '-1', '101']) {
      assert.throws(
        () => testOptions({}, { ...flags, maxErrorRate: value }),
        (error: Error & { exitCode?: number }) => error.exitCode === 2,
      );
    }
  });

  it('the config file accepts a checks section without unknown-key warnings', async () => {
    const config = await configFrom({ checks: { sample: 4, maxErrorRate: 0.5 } });
    assert.deepEqual(config.warnings, []);
    assert.equal(config.checks.sample, 4);
    assert.equal(testOptions(config.checks, flags).maxErrorRate, 0.005);
  });
});

describe('checks: insecure settings (diagnose)', () => {
  it('names a password in the config file, tenant users off on MySQL and a missing AFTY_SECRET', async () => {
    const open = insecureSettings(
      await configFrom({
        servers: { default: 'mysql://root:hunter2@127.0.0.1:3306' },
        tenancy: { tenantUsers: false },
      }),
    );
    assert.deepEqual(
      open.map((finding) => finding.severity),
      ['warn', 'warn'],
    );
    assert.match(open[0]!.text, /contains a password/);
    assert.ok(!JSON.stringify(open).includes('hunter2'), "!JSON.stringify(open).includes('hunter2')");
    assert.match(open[1]!.text, /tenantUsers is off/);

    const keyless = { servers: { default: 'mysql://root@127.0.0.1:3306' } };
    assert.deepEqual(
      insecureSettings(await configFrom(keyless)).map((finding) => [
        finding.severity,
        /AFTY_SECRET/.test(finding.text),
      ]),
      [['fail', true]],
    );
    assert.deepEqual(insecureSettings(await configFrom(keyless, { AFTY_SECRET: 'x'.repeat(32) })), []);
  });
});

describe('checks: probes', () => {
  it('samples N others per tenant and probes every tenant at least once (linear cost)', () => {
    const fleet = Array.from({ length: 20 }, (_, index) => tenant(`t${String(index).padStart(2, '0')}`));
    const probed = new Map<string, number>();
    let probes = 0;
    for (const source of fleet) {
      const targets = sampleTargets(fleet, source, 3);
      assert.equal(targets.length, 3);
      assert.ok(!targets.includes(source), '!targets.includes(source)');
      probes += targets.length;
      for (const target of targets) probed.set(target.id, (probed.get(target.id) ?? 0) + 1);
    }
    assert.equal(probes, 60);
    assert.equal(probed.size, 20);
    assert.deepEqual(sampleTargets(fleet.slice(0, 2), fleet[0]!, 3), [fleet[1]]);
  });

  it('computes nearest-rank percentiles', () => {
    const stats = latencyStats(Array.from({ length: 100 }, (_, index) => index + 1));
    assert.deepEqual(stats, { count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  });

  it('flags global privileges, GRANT OPTION and other databases, never keeping password hashes', () => {
    const grants = parseGrants([
      "GRANT USAGE ON *.* TO `t_alpha`@`%` IDENTIFIED BY PASSWORD '*ABC'",
      'GRANT ALL PRIVILEGES ON `t\\_alpha`.* TO `t_alpha`@`%`',
    ]);
    assert.deepEqual(grantViolations(grants, 't_alpha'), []);
    assert.ok(!JSON.stringify(grants).includes('*ABC'), "!JSON.stringify(grants).includes('*ABC')");
    const bad = parseGrants([
      'GRANT SELECT ON *.* TO `t_alpha`@`%`',
      'GRANT SELECT ON `t\\_beta`.* TO `t_alpha`@`%`',
      'GRANT ALL PRIVILEGES ON `t\\_alpha`.* TO `t_alpha`@`%` WITH GRANT OPTION',
    ]);
    assert.deepEqual(grantViolations(bad, 't_alpha'), [
      'global privileges (SELECT)',
      'SELECT on t_beta.*',
      'GRANT OPTION on t_alpha.*',
    ]);
  });
});

describe('checks: reporters', () => {
  let results: CheckResult[];
  before(async () => {
    const tenants = [tenant('alpha'), tenant('beta')];
    const skipping: Check = {
      ...passing,
      id: 'connections.skipper',
      run: async (): Promise<CheckOutcome> => ({ status: 'skip', message: 'no # Redis' }),
    };
    const warning: Check = {
      ...passing,
      id: 'connections.warner',
      run: async (): Promise<CheckOutcome> => ({ status: 'warn', message: 'slow' }),
    };
    results = await runChecks([passing, skipping, warning, failingFor('beta')], fakeContext(tenants), {
      concurrency: 1,
    });
  });

  it('JUnit: valid XML a JUnit parser reads, one testsuite per category, one testcase per check and tenant', async () => {
    const xml = await renderReport(report(results), 'junit');
    const parsed = (await parse(xml)) as TestSuites;
    assert.equal(parsed.tests, 5);
    assert.equal(parsed.failures, 1);
    assert.deepEqual(
      parsed.testsuite!.map((suite) => [suite.name, suite.tests, suite.failures, suite.skipped]),
      [
        ['connections', 3, 0, 1],
        ['isolation', 2, 1, 0],
      ],
    );
    const isolation = parsed.testsuite![1]!.testcase!;
    assert.deepEqual(
      isolation.map((testcase) => testcase.name),
      ['isolation.fake [alpha]', 'isolation.fake [beta]'],
    );
    const failure = isolation[1]!.failure![0]!;
    assert.equal(failure.message, 'beta leaks <&> "quoted"');
    assert.match(failure.inner!, /remedy: fix it/);
    assert.equal(parsed.testsuite![0]!.testcase![1]!.skipped![0]!.message, 'no # Redis');
  });

  it('TAP 13: plan, ok / not ok per result, SKIP directive, YAML block on failures and warnings', async () => {
    const tap = (await renderReport(report(results), 'tap')).split('\n');
    assert.equal(tap[0], 'TAP version 13');
    assert.equal(tap[1], '1..5');
    const points = tap.filter((line) => /^(not )?ok \d+ /.test(line));
    assert.equal(points.length, 5);
    assert.equal(points[1], 'ok 2 - connections.skipper # SKIP no \\# Redis');
    assert.equal(points[4], 'not ok 5 - isolation.fake [beta]: beta leaks <&> "quoted"');
    const yamlStart = tap.indexOf(points[4]!) + 1;
    assert.equal(tap[yamlStart], '  ---');
    assert.ok(tap.includes('  tenant: "beta"'), 'tap.includes(\'  tenant: "beta"\')');
    assert.ok(tap.includes('  remedy: "fix it"'), 'tap.includes(\'  remedy: "fix it"\')');
    assert.ok(tap.includes('  severity: warn'), "tap.includes('  severity: warn')");
    assert.equal(tap[tap.indexOf('  remedy: "fix it"') + 2], '  ...');
  });

  it('pretty: ✓ / ! / ✗ with the remedy under problems; json: the report without internals', async () => {
    const pretty = await renderReport(report(results), 'pretty');
    assert.match(pretty, /✓ connections\.fake {2}fine/);
    assert.match(pretty, /! connections\.warner {2}slow/);
    assert.match(pretty, /✗ isolation\.fake \[beta\] {2}beta leaks/);
    assert.match(pretty, /→ fix it/);
    const json = JSON.parse(await renderReport(report(results), 'json')) as CheckReport;
    assert.equal(json.results.length, 5);
    assert.equal(json.summary.fail, 1);
  });
});

import { Args, Flags } from '@oclif/core';
import type { CheckReport } from '../lib/checks/types.js';
import { CheckReportCommand } from '../lib/ui/check-command.js';
import { reportFlags } from '../lib/ui/check-flags.js';
import { fleetFlags } from '../lib/ui/flags.js';

interface CheckListJson {
  checks: Array<{ id: string; category: string; scope: string; title: string; remedy: string }>;
}

export default class Test extends CheckReportCommand<typeof Test> {
  static summary =
    'Run active probes against the fleet: connections, isolation, cache, database, performance, security';
  static description = `Categories: connections, isolation, cache, database, performance, security; "all" (or none) runs every category. Without selection flags every tenant is covered (no picker), so "afty test all" in CI checks the whole fleet; --tenant narrows it. Per-tenant checks report one result per tenant. Exits 0 only when nothing failed (1: a check failed, 3: a required service was unreachable).`;
  static examples = [
    '<%= config.bin %> test all',
    '<%= config.bin %> test isolation security --tenant acme',
    '<%= config.bin %> test all --reporter junit --output report.xml',
    '<%= config.bin %> test performance --duration 10 --workers 8',
    '<%= config.bin %> test --list',
  ];
  static strict = false;

  static args = {
    category: Args.string({
      description:
        'categories to run (repeatable): all or one of connections, isolation, cache, database, performance, security',
    }),
  };

  static flags = {
    ...fleetFlags,
    ...reportFlags,
    list: Flags.boolean({ description: 'list the checks of the chosen categories and exit' }),
    sample: Flags.integer({
      min: 1,
      description: 'isolation: other tenants each tenant is probed against [default: checks.sample, else 3]',
    }),
    duration: Flags.integer({
      min: 1,
      max: 600,
      default: 5,
      description: 'performance: seconds of concurrent load',
    }),
    workers: Flags.integer({
      min: 1,
      max: 256,
      description: 'performance: concurrent workers in the load [default: concurrency]',
    }),
    'max-latency': Flags.integer({
      min: 1,
      description: 'performance: p95 query latency limit in ms [default: checks.maxLatencyMs, else 100]',
    }),
    'max-connect': Flags.integer({
      min: 1,
      description:
        'performance: p95 connect + first query limit in ms [default: checks.maxConnectMs, else 1000]',
    }),
    'max-error-rate': Flags.string({
      description:
        'performance: error rate limit under load, in percent [default: checks.maxErrorRate, else 1]',
    }),
  };

  async run(): Promise<CheckReport | CheckListJson> {
    const checks = await import('../lib/checks/index.js');
    const { argv } = await this.parse(Test);
    const categories = checks.selectCategories(argv as string[]);
    const selected = categories.flatMap((category) => checks.TEST_CHECKS[category]);

    if (this.flags.list) {
      const list = selected.map(({ id, category, scope, title, remedy }) => ({
        id,
        category,
        scope,
        title,
        remedy,
      }));
      if (!this.jsonEnabled()) {
        const { renderTable } = await import('../lib/ui/output.js');
        this.log(
          await renderTable({
            columns: [
              { header: 'id', kind: 'id' },
              { header: 'scope', kind: 'id' },
              { header: 'title', kind: 'text' },
            ],
            rows: list.map((check) => [check.id, check.scope, check.title]),
          }),
        );
      }
      return { checks: list };
    }

    const ctx = await this.context();
    const concurrency = await this.concurrency(this.flags.concurrency);
    const report = await this.runSession({
      command: 'test',
      checks: selected,
      afty: ctx,
      registry: () => ctx.registry(),
      selection: this.selection(this.flags),
      concurrency,
      bail: this.flags.bail,
      options: checks.testOptions(ctx.config.checks, {
        sample: this.flags.sample,
        durationS: this.flags.duration,
        workers: this.flags.workers ?? concurrency,
        maxLatencyMs: this.flags['max-latency'],
        maxConnectMs: this.flags['max-connect'],
        maxErrorRate: this.flags['max-error-rate'],
      }),
    });
    return this.finish(report, this.flags);
  }
}

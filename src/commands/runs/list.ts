import { Flags } from '@oclif/core';
import type { RunSummary } from '../../lib/registry/index.js';
import { BaseCommand } from '../../lib/ui/base-command.js';

export default class RunsList extends BaseCommand<typeof RunsList> {
  static summary = 'List recorded fleet runs, newest first';
  static description =
    "Every fleet command that changes tenants (db migrate/rollback/fresh/seed, backup create/restore/prune, cache clear/warm, tenant run, status changes) records a run: its command and arguments (secrets redacted), who, where, when, and each tenant's outcome. Shards that share a --run-id are one run.";
  static examples = [
    '<%= config.bin %> runs list',
    '<%= config.bin %> runs list --command "db migrate" --since 7d',
    '<%= config.bin %> runs list --json',
  ];

  static flags = {
    command: Flags.string({ description: 'only runs of this command, e.g. "db migrate"' }),
    since: Flags.string({ description: 'only runs started within this long, e.g. 12h, 7d' }),
    limit: Flags.integer({ min: 1, max: 10_000, default: 20, description: 'at most this many runs' }),
  };

  async run(): Promise<{ runs: RunSummary[] }> {
    const [{ parseDurationSeconds }, ui] = await Promise.all([
      import('../../lib/validation/index.js'),
      import('../../lib/ui/output.js'),
    ]);
    const since =
      this.flags.since === undefined
        ? undefined
        : new Date(Date.now() - parseDurationSeconds(this.flags.since, '--since') * 1000);
    const registry = await (await this.context()).registry();
    const runs = await registry.runs.list({
      command: this.flags.command?.trim().replace(/\s+/g, ':'),
      since,
      limit: this.flags.limit,
    });
    if (!this.jsonEnabled()) {
      if (!runs.length) this.log('No runs recorded yet.');
      else {
        const duration = (run: RunSummary) =>
          run.finishedAt
            ? ui.formatDuration(Date.parse(run.finishedAt) - Date.parse(run.startedAt))
            : 'running or killed';
        this.log(
          await ui.renderTable({
            columns: [
              { header: 'run', kind: 'id' },
              { header: 'command', kind: 'id' },
              { header: 'started (UTC)', kind: 'id' },
              { header: 'took', kind: 'text' },
              { header: 'tenants', kind: 'id' },
              { header: 'result', kind: 'text' },
            ],
            rows: runs.map((run) => [
              run.id,
              run.command.replace(/:/g, ' '),
              run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ''),
              duration(run),
              run.totals.tenants,
              describeTotals(run),
            ]),
          }),
        );
      }
    }
    return { runs };
  }
}

/** "28 ok, 2 failed" — only the outcomes that happened. */
export function describeTotals(run: RunSummary): string {
  const order = ['ok', 'failed', 'locked', 'timeout', 'interrupted', 'skipped', 'pending'] as const;
  return order
    .filter((status) => run.totals[status] > 0)
    .map((status) => `${run.totals[status]} ${status === 'pending' ? 'never finished' : status}`)
    .join(', ');
}

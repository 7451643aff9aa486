import { Args } from '@oclif/core';
import type { RunSummary, RunTenantRow } from '../../lib/registry/index.js';
import { BaseCommand } from '../../lib/ui/base-command.js';

export default class RunsShow extends BaseCommand<typeof RunsShow> {
  static summary = 'Show one recorded run: what ran, where, and each tenant, failures first';
  static description =
    'Shards that wrote into the same run (--run-id) are merged: each is a part with its host and outcome. A tenant still "never finished" was not started, or its part was killed (kill -9, a crash): afty <command> --resume RUN runs it again.';
  static examples = [
    '<%= config.bin %> runs show r20261201T101500Z-4f2a9c',
    '<%= config.bin %> runs show r20261201T101500Z-4f2a9c --json',
  ];

  static args = { run: Args.string({ description: 'the run id (see afty runs list)', required: true }) };

  async run(): Promise<RunSummary & { tenants: RunTenantRow[] }> {
    const [{ validateRunId }, { InputError }, ui, { describeTotals }] = await Promise.all([
      import('../../lib/fleet/run-recorder.js'),
      import('../../lib/errors.js'),
      import('../../lib/ui/output.js'),
      import('./list.js'),
    ]);
    const runs = (await (await this.context()).registry()).runs;
    const id = validateRunId(this.args.run, 'RUN');
    const run = await runs.find(id);
    if (!run) throw new InputError(`no run ${id}`, { hint: 'see afty runs list' });
    const order: Record<string, number> = {
      failed: 0,
      locked: 1,
      timeout: 2,
      interrupted: 3,
      pending: 4,
      skipped: 5,
      ok: 6,
    };
    const tenants = (await runs.tenants(id)).sort(
      (a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9) || a.tenant.localeCompare(b.tenant),
    );
    if (!this.jsonEnabled()) {
      const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
      this.log(`Run ${run.id}: afty ${run.command.replace(/:/g, ' ')} ${run.arguments.join(' ')}`.trimEnd());
      this.log(
        `  by ${run.actor}, started ${when(run.startedAt)}, ${run.finishedAt ? `finished ${when(run.finishedAt)}` : 'not finished (running, or killed)'}${run.resumes ? `, resumes ${run.resumes}` : ''}`,
      );
      for (const part of run.parts) {
        this.log(
          `  part ${part.part} on ${part.host} (pid ${part.pid}): ${part.outcome ?? (part.finishedAt ? 'done' : 'running or killed')}`,
        );
      }
      this.log(
        `  ${run.totals.tenants} tenant${run.totals.tenants === 1 ? '' : 's'}: ${describeTotals(run) || 'none'}`,
      );
      if (tenants.length) {
        this.log(
          await ui.renderTable({
            columns: [
              { header: 'tenant', kind: 'id' },
              { header: 'result', kind: 'id' },
              { header: 'duration', kind: 'id' },
              { header: 'detail', kind: 'text' },
            ],
            rows: tenants.map((row) => [
              row.tenant,
              ui.statusColor(row.status === 'pending' ? 'never finished' : row.status),
              row.durationMs === null ? '' : ui.formatDuration(row.durationMs),
              row.error ? `${row.step ? `${row.step}: ` : ''}${row.error}` : describeDetail(row.detail),
            ]),
          }),
        );
      }
    }
    return { ...run, tenants };
  }
}

/** What a run did on a tenant, from its record: "applied 004_tags.js, 005_x.js". */
function describeDetail(detail: unknown): string {
  if (!detail || typeof detail !== 'object') return '';
  return Object.entries(detail as Record<string, unknown>)
    .filter(
      ([, value]) => value !== null && value !== undefined && !(Array.isArray(value) && value.length === 0),
    )
    .map(([key, value]) => `${key} ${Array.isArray(value) ? value.join(', ') : String(value)}`)
    .join('; ');
}

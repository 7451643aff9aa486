import type { Command } from '@oclif/core';
import type { FleetResult, FleetTotals } from '../fleet/index.js';
import type { TenantRecord } from '../registry/index.js';
import { BaseCommand } from '../ui/base-command.js';
import type { FleetSummaryOptions } from '../ui/fleet.js';
import type { ProgressReporter } from '../ui/progress.js';

/** The fields every `afty db` fleet JSON row starts with. */
export interface DbFleetRow {
  tenant: string;
  /** `locked`: the tenant's migration lock was held (a failure). */
  status: 'ok' | 'failed' | 'skipped' | 'locked';
  durationMs: number;
  error: string | null;
}

/**
 * The `afty db` commands that change tenants: per-tenant work with live progress, exit 1 when
 * any tenant failed, the summary table (or nothing with --json), and an audit row.
 */
export abstract class DbFleetCommand<T extends typeof Command> extends BaseCommand<T> {
  static audited = true;

  protected async runOnTenants<R>(
    tenants: TenantRecord[],
    work: (tenant: TenantRecord, reporter: ProgressReporter) => Promise<R>,
    options: { verb: string; concurrency?: number; bail: boolean } & FleetSummaryOptions<R>,
  ): Promise<{ results: Array<FleetResult<R>>; rows: DbFleetRow[]; totals: FleetTotals }> {
    const [{ runFleetWithProgress }, { fleetTotals }, { resultStatus }] = await Promise.all([
      import('../ui/progress.js'),
      import('../fleet/index.js'),
      import('./index.js'),
    ]);
    if (tenants.length === 1) this.auditTenant = tenants[0]!.id;
    const results = await runFleetWithProgress(tenants, work, {
      concurrency: await this.concurrency(options.concurrency),
      bail: options.bail,
      silent: this.jsonEnabled(),
      verb: options.verb,
    });
    const totals = fleetTotals(results);
    if (totals.failed > 0) process.exitCode = 1;
    if (!this.jsonEnabled()) {
      const { renderFleetSummary } = await import('../ui/fleet.js');
      this.log(await renderFleetSummary(results, options));
    }
    const rows = results.map((result) => ({
      tenant: result.tenant,
      status: resultStatus(result),
      durationMs: Math.round(result.durationMs),
      error: result.error ?? null,
    }));
    return { results, rows, totals };
  }
}

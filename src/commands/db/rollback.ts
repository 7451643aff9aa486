import { Flags } from '@oclif/core';
import { DbFleetCommand, type DbFleetRow } from '../../lib/migrations/fleet-command.js';
import type { FleetTotals } from '../../lib/fleet/index.js';
import { fleetFlags } from '../../lib/ui/flags.js';

interface RollbackJson {
  tenants: Array<DbFleetRow & { rolledBack: Array<{ name: string; ms: number }> }>;
  totals: FleetTotals;
}

export default class DbRollback extends DbFleetCommand<typeof DbRollback> {
  static summary = 'Undo the last batch of migrations (or the last --step N) on the selected tenants';
  static description =
    "Runs each migration's down() newest first, under the tenant's migration lock, removing its knex_migrations row in the same transaction. Exits 1 if any tenant failed.";
  static examples = [
    '<%= config.bin %> db rollback -t acme',
    '<%= config.bin %> db rollback --all --step 2 --json',
  ];

  static flags = {
    ...fleetFlags,
    step: Flags.integer({ min: 1, description: 'roll back this many migrations instead of the last batch' }),
  };

  async run(): Promise<RollbackJson> {
    const lib = await import('../../lib/migrations/index.js');
    const ctx = await this.context();
    const source = lib.sourceOf(ctx);
    const tenants = await this.selectTenants(this.flags);
    const { results, rows, totals } = await this.runOnTenants(
      tenants,
      async (tenant, reporter) => {
        const result = await lib.rollbackTenant(lib.targetOf(ctx, tenant), source, {
          step: this.flags.step,
          events: {
            planned: (names) => reporter.plan(names),
            finished: (step) => reporter.step(step.name, step.ms, 'rolled back'),
          },
        });
        if (result.rolledBack.length) await lib.markMigrated(ctx, tenant.id);
        return result;
      },
      {
        verb: 'rollback',
        concurrency: this.flags.concurrency,
        bail: this.flags.bail,
        detail: (value) => `${value.rolledBack.length} rolled back`,
        idle: { label: 'nothing to roll back', test: (value) => value.rolledBack.length === 0 },
      },
    );
    return {
      tenants: results.map((result, index) => ({
        ...rows[index]!,
        rolledBack: result.value?.rolledBack ?? [],
      })),
      totals,
    };
  }
}

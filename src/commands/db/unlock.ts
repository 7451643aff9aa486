import { DbFleetCommand, type DbFleetRow } from '../../lib/migrations/fleet-command.js';
import type { FleetTotals } from '../../lib/fleet/index.js';
import { fleetFlags } from '../../lib/ui/flags.js';

interface UnlockJson {
  tenants: Array<DbFleetRow & { wasLocked: boolean }>;
  totals: FleetTotals;
}

export default class DbUnlock extends DbFleetCommand<typeof DbUnlock> {
  static summary = "Free a tenant's stale migration lock (left by a crashed or killed run)";
  static description =
    'Only free a lock when no migration run is active for that tenant: the lock is what keeps two runs from applying the same migration.';
  static examples = ['<%= config.bin %> db unlock -t acme', '<%= config.bin %> db unlock --all --json'];

  static flags = { ...fleetFlags };

  async run(): Promise<UnlockJson> {
    const lib = await import('../../lib/migrations/index.js');
    const ctx = await this.context();
    const tenants = await this.selectTenants(this.flags);
    const { results, rows, totals } = await this.runOnTenants(
      tenants,
      (tenant) => lib.unlockTenant(lib.targetOf(ctx, tenant)),
      {
        verb: 'unlock',
        concurrency: this.flags.concurrency,
        bail: this.flags.bail,
        detail: (value) => (value.wasLocked ? 'lock freed' : 'was not locked'),
      },
    );
    return {
      tenants: results.map((result, index) => ({
        ...rows[index]!,
        wasLocked: result.value?.wasLocked ?? false,
      })),
      totals,
    };
  }
}

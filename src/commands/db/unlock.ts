import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

type UnlockJson = FleetJson<FleetTenantJson & { wasLocked: boolean }>;

export default class DbUnlock extends FleetCommand<typeof DbUnlock> {
  static audited = true;
  static summary = "Free a tenant's stale migration lock (left by a crashed or killed run)";
  static description =
    'Only free a lock when no migration run is active for that tenant: the lock is what keeps two runs from applying the same migration.';
  static examples = ['<%= config.bin %> db unlock -t acme', '<%= config.bin %> db unlock --all --json'];

  static flags = { ...fleetFlags };

  async run(): Promise<UnlockJson> {
    const [lib, { fleetJson }] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/fleet/index.js'),
    ]);
    const ctx = await this.context();
    const tenants = await this.selectTenants(this.flags);
    const outcome = await this.runOnFleet(
      tenants,
      async (tenant) => {
        const result = await lib.unlockTenant(lib.targetOf(ctx, tenant));
        await (await ctx.registry()).clearLockHolder(tenant.id);
        return result;
      },
      {
        verb: 'unlock',
        detail: (value) => (value.wasLocked ? 'lock freed' : 'was not locked'),
      },
    );
    return fleetJson(outcome.results, (result) => ({ wasLocked: result.value?.wasLocked ?? false }), {
      interrupted: outcome.interrupted,
    });
  }
}

import { Flags } from '@oclif/core';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';

type RollbackJson = FleetJson<
  FleetTenantJson & { rolledBack: Array<{ name: string; ms: number }>; wouldRollBack: string[] }
> & { dryRun: boolean };

export default class DbRollback extends FleetCommand<typeof DbRollback> {
  static summary = 'Undo the last batch of migrations (or the last --step N) on the selected tenants';
  static description = `Runs each migration's down() newest first, under the tenant's migration lock, removing its knex_migrations row in the same transaction. Asks for confirmation in a terminal; --force otherwise. For a fleet (--all, --status, --server, or several tenants) a tenant whose last batch is its first one is left alone (for a tenant migrated once, that batch is its whole schema) unless --include-initial. --dry-run lists, per tenant, exactly what would be undone. Exits 1 if any tenant failed.`;
  static examples = [
    '<%= config.bin %> db rollback -t acme',
    '<%= config.bin %> db rollback --all --dry-run',
    '<%= config.bin %> db rollback --all --step 2 --force --json',
  ];
  static audited = true;

  static flags = {
    ...changeFlags,
    step: Flags.integer({ min: 1, description: 'roll back this many migrations instead of the last batch' }),
    'dry-run': Flags.boolean({
      description: 'list, per tenant, the migrations that would be undone; change nothing',
    }),
    'include-initial': Flags.boolean({
      description: "for a fleet: also undo a tenant's first batch (its initial schema)",
    }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation' }),
  };

  async run(): Promise<RollbackJson> {
    const [lib, { fleetJson }, { confirmDestructive }] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/fleet/index.js'),
      import('../../lib/ui/prompts.js'),
    ]);
    const ctx = await this.context();
    const source = lib.sourceOf(ctx);
    const tenants = await this.selectTenants(this.flags);
    const dryRun = Boolean(this.flags['dry-run']);
    const named = this.flags.tenant ?? [];
    const fleet = tenants.length > 1 || named.length !== 1;
    if (!dryRun && tenants.length > 0) {
      const what = this.flags.step
        ? `the last ${this.flags.step} migration${this.flags.step === 1 ? '' : 's'}`
        : 'the last batch';
      const who = tenants.length === 1 ? `tenant ${tenants[0]!.id}` : `${tenants.length} tenants`;
      await confirmDestructive(
        `roll back ${what} of ${who}${fleet && !this.flags['include-initial'] ? ' (tenants whose last batch is their first are left alone)' : ''} — see --dry-run for exactly what`,
        this.flags.force,
      );
    }
    const outcome = await this.runOnFleet(
      tenants,
      async (tenant, progress) => {
        const result = await lib.rollbackTenant(lib.targetOf(ctx, tenant), source, {
          step: this.flags.step,
          dryRun,
          keepFirstBatch: fleet && !this.flags['include-initial'],
          events: {
            planned: (names) => progress.plan(names),
            started: (name) => progress.stepStarted(name),
            finished: (step) =>
              progress.stepFinished(step.name, { durationMs: step.ms, detail: 'rolled back' }),
          },
        });
        if (result.rolledBack.length) await lib.markMigrated(ctx, tenant.id);
        return result;
      },
      {
        verb: dryRun ? 'rollback (dry run)' : 'rollback',
        detail: (value) =>
          dryRun
            ? `would roll back ${value.wouldRollBack.join(', ')}`
            : `${value.rolledBack.length} rolled back: ${value.rolledBack.map((step) => step.name).join(', ')}`,
        idle: {
          label: 'nothing to roll back',
          test: (value) => (dryRun ? value.wouldRollBack : value.rolledBack).length === 0,
        },
      },
    );
    return {
      dryRun,
      ...fleetJson(
        outcome.results,
        (result) => ({
          rolledBack: result.value?.rolledBack ?? lib.appliedBefore(result.cause),
          wouldRollBack: result.value?.wouldRollBack ?? [],
        }),
        { interrupted: outcome.interrupted },
      ),
    };
  }
}

import { Flags } from '@oclif/core';
import { DbFleetCommand, type DbFleetRow } from '../../lib/migrations/fleet-command.js';
import type { FleetTotals } from '../../lib/fleet/index.js';
import { fleetFlags } from '../../lib/ui/flags.js';

export interface MigrateJson {
  dryRun: boolean;
  tenants: Array<DbFleetRow & { applied: Array<{ name: string; ms: number }>; pending: string[] }>;
  totals: FleetTotals;
}

export default class DbMigrate extends DbFleetCommand<typeof DbMigrate> {
  static summary = 'Run pending migrations on one tenant, several, or the whole fleet';
  static description = `Tenants are migrated concurrently (--concurrency); a failing tenant never stops the others unless --bail. Each tenant's migration lock is held for its whole run and every migration is recorded in knex_migrations as soon as it succeeds. A tenant whose lock is held is reported as locked at once (free a stale lock with afty db unlock). On MySQL, DDL commits implicitly: a migration that fails half-way keeps what it already ran. Exits 1 if any tenant failed.`;
  static examples = [
    '<%= config.bin %> db migrate --all --concurrency 8',
    '<%= config.bin %> db migrate -t acme --step 1',
    '<%= config.bin %> db migrate --all --dry-run --json',
  ];

  static flags = {
    ...fleetFlags,
    step: Flags.integer({ min: 1, description: 'apply at most this many pending migrations per tenant' }),
    'dry-run': Flags.boolean({ description: 'list what would run; change nothing' }),
  };

  async run(): Promise<MigrateJson> {
    const lib = await import('../../lib/migrations/index.js');
    const ctx = await this.context();
    const source = lib.sourceOf(ctx);
    const tenants = await this.selectTenants(this.flags);
    const dryRun = this.flags['dry-run'];
    const { results, rows, totals } = await this.runOnTenants(
      tenants,
      (tenant, reporter) =>
        lib.migrateRegistered(ctx, tenant, source, {
          step: this.flags.step,
          dryRun,
          events: {
            planned: (names) => reporter.plan(names),
            finished: (step) => reporter.step(step.name, step.ms),
          },
        }),
      {
        verb: dryRun ? 'migrate (dry run)' : 'migrate',
        concurrency: this.flags.concurrency,
        bail: this.flags.bail,
        detail: (value) =>
          dryRun ? `would apply ${value.pending.join(', ')}` : `${value.applied.length} applied`,
        idle: {
          label: 'up to date',
          test: (value) => (dryRun ? value.pending : value.applied).length === 0,
        },
      },
    );
    return {
      dryRun,
      tenants: results.map((result, index) => ({
        ...rows[index]!,
        applied:
          result.value?.applied ??
          (result.cause instanceof lib.MigrationFailedError ? result.cause.applied : []),
        pending: result.value?.pending ?? [],
      })),
      totals,
    };
  }
}

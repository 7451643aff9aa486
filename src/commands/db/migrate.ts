import { Flags } from '@oclif/core';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';

export type MigrateJson = FleetJson<
  FleetTenantJson & { applied: Array<{ name: string; ms: number }>; pending: string[] }
> & { dryRun: boolean };

export default class DbMigrate extends FleetCommand<typeof DbMigrate> {
  static summary = 'Run pending migrations on one tenant, several, or the whole fleet';
  static description = `Tenants are migrated concurrently (--concurrency, --per-server); a failing tenant never stops the others unless --bail. Each tenant's migration lock is held for its whole run and every migration is recorded in knex_migrations as soon as it succeeds. A tenant whose lock is held is reported as locked at once (free a stale lock with afty db unlock). Ctrl-C stops cleanly: running tenants finish their current migration and free their locks; a second Ctrl-C aborts them. On MySQL, DDL commits implicitly: a migration that fails half-way keeps what it already ran. Exits 1 if any tenant failed, 130 after Ctrl-C.`;
  static examples = [
    '<%= config.bin %> db migrate --all --concurrency 8',
    '<%= config.bin %> db migrate -t acme --step 1',
    '<%= config.bin %> db migrate --all --per-server 2 --timeout 10m',
    '<%= config.bin %> db migrate --all --dry-run --json',
  ];
  static audited = true;
  static recordsRuns = true;

  static flags = {
    ...changeFlags,
    step: Flags.integer({ min: 1, description: 'apply at most this many pending migrations per tenant' }),
    'dry-run': Flags.boolean({ description: 'list what would run; change nothing' }),
  };

  async run(): Promise<MigrateJson> {
    const [lib, { fleetJson }] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/fleet/index.js'),
    ]);
    const ctx = await this.context();
    const source = lib.sourceOf(ctx);
    const tenants = await this.selectTenants(this.flags);
    const dryRun = Boolean(this.flags['dry-run']);
    const outcome = await this.runOnFleet(
      tenants,
      (tenant, progress) =>
        lib.migrateRegistered(ctx, tenant, source, {
          step: this.flags.step,
          dryRun,
          events: {
            planned: (names) => progress.plan(names),
            started: (name) => progress.stepStarted(name),
            finished: (step) => progress.stepFinished(step.name, { durationMs: step.ms }),
          },
        }),
      {
        record: (result) => ({
          applied: (result.value?.applied ?? lib.appliedBefore(result.cause)).map((step) => step.name),
        }),
        verb: dryRun ? 'migrate (dry run)' : 'migrate',
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
      ...fleetJson(
        outcome.results,
        (result) => ({
          applied: result.value?.applied ?? lib.appliedBefore(result.cause),
          pending: result.value?.pending ?? [],
        }),
        { interrupted: outcome.interrupted },
      ),
    };
  }
}

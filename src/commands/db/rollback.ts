import { Flags } from '@oclif/core';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';

type RollbackJson = FleetJson<
  FleetTenantJson & { rolledBack: Array<{ name: string; ms: number }>; wouldRollBack: string[] }
> & { dryRun: boolean; undoes: string | null };

export default class DbRollback extends FleetCommand<typeof DbRollback> {
  static summary =
    'Undo the last batch of migrations (or the last --step N, or exactly what one run applied) on the selected tenants';
  static description = `Runs each migration's down() newest first, under the tenant's migration lock, removing its knex_migrations row in the same transaction. Asks for confirmation in a terminal; --force otherwise. For a fleet (--all, --status, --server, or several tenants) a tenant whose last batch is its first one is left alone (for a tenant migrated once, that batch is its whole schema) unless --include-initial. --dry-run lists, per tenant, exactly what would be undone. --run RUN undoes, on each tenant of a recorded db migrate run, exactly the migrations RUN applied there, newest first (a tenant where newer migrations were applied since is refused unless --force); tenants RUN did not change are left alone. Exits 1 if any tenant failed.`;
  static examples = [
    '<%= config.bin %> db rollback -t acme',
    '<%= config.bin %> db rollback --all --dry-run',
    '<%= config.bin %> db rollback --all --step 2 --force --json',
    '<%= config.bin %> db rollback --run r20261201T101500Z-4f2a9c --dry-run',
  ];
  static audited = true;
  static recordsRuns = true;

  static flags = {
    ...changeFlags,
    step: Flags.integer({ min: 1, description: 'roll back this many migrations instead of the last batch' }),
    'dry-run': Flags.boolean({
      description: 'list, per tenant, the migrations that would be undone; change nothing',
    }),
    'include-initial': Flags.boolean({
      description: "for a fleet: also undo a tenant's first batch (its initial schema)",
    }),
    run: Flags.string({
      description: 'undo exactly what this recorded db migrate run applied, on the tenants it changed',
      exclusive: ['step', 'include-initial', 'tenant', 'all', 'status', 'server', 'exclude'],
    }),
    force: Flags.boolean({
      char: 'f',
      description:
        'do not ask for confirmation; with --run, also undo where newer migrations were applied since',
    }),
  };

  async run(): Promise<RollbackJson> {
    const [lib, { fleetJson }, { confirmDestructive }] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/fleet/index.js'),
      import('../../lib/ui/prompts.js'),
    ]);
    const ctx = await this.context();
    const source = lib.sourceOf(ctx);
    const undo = this.flags.run === undefined ? undefined : await this.appliedBy(this.flags.run);
    const tenants = undo
      ? await (await ctx.registry()).listTenants({ ids: [...undo.keys()] })
      : await this.selectTenants(this.flags);
    const dryRun = Boolean(this.flags['dry-run']);
    const named = this.flags.tenant ?? [];
    const fleet = !undo && (tenants.length > 1 || named.length !== 1);
    if (!dryRun && tenants.length > 0) {
      const what = undo
        ? `what run ${this.flags.run} applied to`
        : this.flags.step
          ? `the last ${this.flags.step} migration${this.flags.step === 1 ? '' : 's'} of`
          : 'the last batch of';
      const who = tenants.length === 1 ? `tenant ${tenants[0]!.id}` : `${tenants.length} tenants`;
      await confirmDestructive(
        `roll back ${what} ${who}${fleet && !this.flags['include-initial'] ? ' (tenants whose last batch is their first are left alone)' : ''} — see --dry-run for exactly what`,
        this.flags.force,
      );
    }
    const outcome = await this.runOnFleet(
      tenants,
      async (tenant, progress) => {
        const result = await lib.explainLocked(ctx, tenant.id, () =>
          lib.rollbackTenant(lib.targetOf(ctx, tenant), source, {
            step: this.flags.step,
            dryRun,
            keepFirstBatch: fleet && !this.flags['include-initial'],
            only: undo && {
              names: undo.get(tenant.id)!,
              run: this.flags.run!,
              allowNewer: this.flags.force,
            },
            holder: lib.lockHolderOf(ctx, tenant),
            events: {
              planned: (names) => progress.plan(names),
              started: (name) => progress.stepStarted(name),
              finished: (step) =>
                progress.stepFinished(step.name, { durationMs: step.ms, detail: 'rolled back' }),
            },
          }),
        );
        if (result.rolledBack.length) await lib.markMigrated(ctx, tenant.id);
        return result;
      },
      {
        record: (result) => ({
          rolledBack: (result.value?.rolledBack ?? lib.appliedBefore(result.cause)).map((step) => step.name),
          wouldRollBack: result.value?.wouldRollBack,
        }),
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
      undoes: this.flags.run ?? null,
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

  /** The migrations a recorded db migrate run applied, per tenant it changed (none: not listed). */
  private async appliedBy(runId: string): Promise<Map<string, string[]>> {
    const [{ validateRunId }, { InputError }] = await Promise.all([
      import('../../lib/fleet/run-recorder.js'),
      import('../../lib/errors.js'),
    ]);
    const runs = (await (await this.context()).registry()).runs;
    const run = await runs.find(validateRunId(runId, '--run'));
    if (!run) throw new InputError(`no run ${runId}`, { hint: 'see afty runs list --command "db migrate"' });
    if (run.command !== 'db:migrate') {
      throw new InputError(
        `run ${runId} was afty ${run.command.replace(/:/g, ' ')}: --run undoes a db migrate run`,
      );
    }
    const applied = new Map<string, string[]>();
    for (const row of await runs.tenants(run.id)) {
      const names = (row.detail as { applied?: string[] } | null)?.applied ?? [];
      if (names.length) applied.set(row.tenant, names);
    }
    return applied;
  }
}

import { Flags } from '@oclif/core';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';

const DROP_STEP = 'drop tables and views';

type FreshJson = FleetJson<
  FleetTenantJson & {
    dropped: number;
    applied: Array<{ name: string; ms: number }>;
    seeded: Array<{ name: string; ms: number; memoryBytes: number }>;
  }
>;

export default class DbFresh extends FleetCommand<typeof DbFresh> {
  static audited = true;
  static recordsRuns = true;
  static summary = "Drop every table and view of the selected tenants' databases, then migrate (and seed)";
  static description =
    "Destroys the tenants' data: asks for confirmation in a terminal (default no) and needs --force elsewhere. Refuses a tenant whose migration lock is held. --seed runs the default seeder, or --class A,B in that order.";
  static examples = [
    '<%= config.bin %> db fresh -t acme --seed',
    '<%= config.bin %> db fresh -t acme --seed --class UsersSeeder --force --json',
  ];

  static flags = {
    ...changeFlags,
    seed: Flags.boolean({ description: 'seed after migrating' }),
    class: Flags.string({
      multiple: true,
      dependsOn: ['seed'],
      description: 'seeders to run with --seed, in order [default: DatabaseSeeder / default]',
    }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation' }),
  };

  async run(): Promise<FreshJson> {
    const [lib, { confirmDestructive }, { fleetJson }] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/ui/prompts.js'),
      import('../../lib/fleet/index.js'),
    ]);
    const ctx = await this.context();
    const source = lib.sourceOf(ctx);
    const seeders = this.flags.seed ? lib.seedersFor(ctx, lib.splitClasses(this.flags.class)) : [];
    const migrations = source.list().map((file) => file.name);
    const tenants = await this.selectTenants(this.flags);
    const names = tenants
      .slice(0, 5)
      .map((tenant) => tenant.id)
      .join(', ');
    await confirmDestructive(
      `drop every table and view of ${tenants.length === 1 ? 'tenant' : `${tenants.length} tenants:`} ${names}${tenants.length > 5 ? ', …' : ''}`,
      this.flags.force,
    );
    const outcome = await this.runOnFleet(
      tenants,
      async (tenant, progress) => {
        const target = lib.targetOf(ctx, tenant);
        // Everything is dropped, so every migration runs: the whole plan is known up front.
        progress.plan([DROP_STEP, ...migrations, ...seeders.map((seeder) => seeder.name)]);
        const { dropped } = await progress.step(
          DROP_STEP,
          () => lib.dropAllRelations(target),
          (value) => `${value.dropped} dropped`,
        );
        const migrated = await lib.migrateRegistered(ctx, tenant, source, {
          events: {
            started: (name) => progress.stepStarted(name),
            finished: (step) => progress.stepFinished(step.name, { durationMs: step.ms }),
          },
        });
        const seeded = await lib.seedTenant(
          target,
          seeders,
          (run) => progress.stepFinished(run.name, { durationMs: run.ms }),
          (name) => progress.stepStarted(name),
        );
        return { dropped, applied: migrated.applied, seeded };
      },
      {
        record: (result) => ({
          applied: (result.value?.applied ?? lib.appliedBefore(result.cause)).map((step) => step.name),
        }),
        verb: 'fresh',
        detail: (value) =>
          `${value.dropped} dropped, ${value.applied.length} applied${seeders.length ? `, ${value.seeded.length} seeded` : ''}`,
      },
    );
    return fleetJson(
      outcome.results,
      (result) => ({
        dropped: result.value?.dropped ?? 0,
        applied: result.value?.applied ?? lib.appliedBefore(result.cause),
        seeded: result.value?.seeded ?? [],
      }),
      { interrupted: outcome.interrupted },
    );
  }
}

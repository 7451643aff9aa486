import { Flags } from '@oclif/core';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';

export type SeedJson = FleetJson<
  FleetTenantJson & { seeded: Array<{ name: string; ms: number; memoryBytes: number }> }
> & { seeders: string[] };

export default class DbSeed extends FleetCommand<typeof DbSeed> {
  static audited = true;
  static recordsRuns = true;
  static summary = 'Run seeders on one tenant, several, or the whole fleet';
  static description = `--class A,B runs exactly those seeders in that order. Without --class, a terminal gets a checkbox picker of the seeders in seeds.directory (the default one, DatabaseSeeder or default, first and checked); scripts and CI run the default seeder and never see a picker. An unknown seeder is exit 2 with the list of available ones. Exits 1 if any tenant failed.`;
  static examples = [
    '<%= config.bin %> db seed -t acme',
    '<%= config.bin %> db seed --all --class UsersSeeder,ProjectsSeeder',
    '<%= config.bin %> db seed -t acme --class DatabaseSeeder --json',
  ];

  static flags = {
    ...changeFlags,
    class: Flags.string({
      multiple: true,
      description:
        'seeders to run, in order (comma-separated or repeated) [default: DatabaseSeeder / default]',
    }),
  };

  async run(): Promise<SeedJson> {
    const [lib, prompts, output, { fleetJson }] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/ui/prompts.js'),
      import('../../lib/ui/output.js'),
      import('../../lib/fleet/index.js'),
    ]);
    const ctx = await this.context();
    const classes = lib.splitClasses(this.flags.class);
    let seeders;
    if (classes || !prompts.canPrompt()) {
      seeders = lib.seedersFor(ctx, classes);
    } else {
      const available = lib.configuredSeeders(ctx);
      const picked = await prompts.askChoices(
        'Which seeders?',
        available.map((seeder) => ({
          value: seeder.name,
          checked: lib.DEFAULT_SEEDERS.includes(seeder.name),
        })),
        '--class NAME[,NAME…]',
      );
      seeders = lib.pickSeeders(available, picked, ctx.config.seeds.directory);
    }
    const tenants = await this.selectTenants(this.flags);
    const outcome = await this.runOnFleet(
      tenants,
      (tenant, progress) => {
        progress.plan(seeders.map((seeder) => seeder.name));
        return lib.seedTenant(
          lib.targetOf(ctx, tenant),
          seeders,
          (run) =>
            progress.stepFinished(run.name, {
              durationMs: run.ms,
              detail: output.formatBytes(run.memoryBytes),
            }),
          (name) => progress.stepStarted(name),
        );
      },
      {
        record: (result) => ({ seeded: (result.value ?? []).map((run) => run.name) }),
        verb: 'seed',
        detail: (value) =>
          value
            .map(
              (run) => `${run.name} ${output.formatDuration(run.ms)} ${output.formatBytes(run.memoryBytes)}`,
            )
            .join(', '),
      },
    );
    return {
      seeders: seeders.map((seeder) => seeder.name),
      ...fleetJson(outcome.results, (result) => ({ seeded: result.value ?? [] }), {
        interrupted: outcome.interrupted,
      }),
    };
  }
}

import { Flags } from '@oclif/core';
import { DbFleetCommand, type DbFleetRow } from '../../lib/migrations/fleet-command.js';
import type { FleetTotals } from '../../lib/fleet/index.js';
import { fleetFlags } from '../../lib/ui/flags.js';

export interface SeedJson {
  seeders: string[];
  tenants: Array<DbFleetRow & { seeded: Array<{ name: string; ms: number; memoryBytes: number }> }>;
  totals: FleetTotals;
}

export default class DbSeed extends DbFleetCommand<typeof DbSeed> {
  static summary = 'Run seeders on one tenant, several, or the whole fleet';
  static description = `--class A,B runs exactly those seeders in that order. Without --class, a terminal gets a checkbox picker of the seeders in seeds.directory (the default one, DatabaseSeeder or default, first and checked); scripts and CI run the default seeder and never see a picker. An unknown seeder is exit 2 with the list of available ones. Exits 1 if any tenant failed.`;
  static examples = [
    '<%= config.bin %> db seed -t acme',
    '<%= config.bin %> db seed --all --class UsersSeeder,ProjectsSeeder',
    '<%= config.bin %> db seed -t acme --class DatabaseSeeder --json',
  ];

  static flags = {
    ...fleetFlags,
    class: Flags.string({
      multiple: true,
      description:
        'seeders to run, in order (comma-separated or repeated) [default: DatabaseSeeder / default]',
    }),
  };

  async run(): Promise<SeedJson> {
    const [lib, prompts, output] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/ui/prompts.js'),
      import('../../lib/ui/output.js'),
    ]);
    const ctx = await this.context();
    const classes = lib.splitClasses(this.flags.class);
    let seeders;
    if (classes || !prompts.canPrompt()) {
      seeders = lib.seedersFor(ctx, classes);
    } else {
      const available = lib.listSeeders(ctx.config.seeds.directory);
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
    const { results, rows, totals } = await this.runOnTenants(
      tenants,
      (tenant, reporter) => {
        reporter.plan(seeders.map((seeder) => seeder.name));
        return lib.seedTenant(lib.targetOf(ctx, tenant), seeders, (run) =>
          reporter.step(run.name, run.ms, output.formatBytes(run.memoryBytes)),
        );
      },
      {
        verb: 'seed',
        concurrency: this.flags.concurrency,
        bail: this.flags.bail,
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
      tenants: results.map((result, index) => ({ ...rows[index]!, seeded: result.value ?? [] })),
      totals,
    };
  }
}

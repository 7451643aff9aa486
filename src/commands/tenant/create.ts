import { Args, Flags } from '@oclif/core';
import { TENANT_STATUSES } from '../../lib/validation/index.js';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { TenantView } from '../../lib/tenants/index.js';

export default class TenantCreate extends BaseCommand<typeof TenantCreate> {
  static summary = 'Create a tenant: its database, its database user and its registry rows';
  static description =
    'The registry row comes first, with status provisioning (never served); then the database, the user, --migrate and --seed, and the final status. If a step fails, every earlier step is undone: no database, user or row is left behind. If afty is killed half-way, running the same command again (or afty diagnose --fix) finishes the tenant. With tenancy.tenantUsers on a MySQL server, the tenant gets its own user whose random password is stored encrypted with AFTY_SECRET.';
  static examples = [
    '<%= config.bin %> tenant create acme --name "Acme Inc" --domain acme.example.com',
    '<%= config.bin %> tenant create beta --server eu --status suspended --json',
    '<%= config.bin %> tenant create gamma --database legacy_gamma_db',
  ];
  static audited = true;

  static args = {
    id: Args.string({
      description:
        'tenant id: 2-40 of a-z, 0-9, -; a letter first [default: generated, when the registry generates ids]',
    }),
  };

  static flags = {
    name: Flags.string({ description: 'display name [default: the id]' }),
    domain: Flags.string({
      char: 'd',
      multiple: true,
      default: [],
      description: 'domain (repeatable; the first is primary)',
    }),
    server: Flags.string({
      description: 'server to place the database on [default: the one with the fewest tenants]',
    }),
    database: Flags.string({
      description:
        "database name [default: the registry's naming: tenancy.databasePrefix + id, or stancl's prefix + id + suffix]",
    }),
    status: Flags.string({ options: [...TENANT_STATUSES], default: 'active', description: 'initial status' }),
    migrate: Flags.boolean({
      description: 'load the schema snapshot and run newer migrations (a failure undoes the whole tenant)',
    }),
    seed: Flags.boolean({
      dependsOn: ['migrate'],
      description: 'seed after migrating (default seeder, or --class)',
    }),
    class: Flags.string({
      multiple: true,
      dependsOn: ['seed'],
      description: 'seeders to run with --seed, in order (comma-separated or repeated)',
    }),
  };

  async run(): Promise<TenantView> {
    const { createTenant, tenantView, validateNewTenant } = await import('../../lib/tenants/index.js');
    const migrations = this.flags.migrate ? await import('../../lib/migrations/index.js') : undefined;
    const classes = migrations?.splitClasses(this.flags.class);
    const input = {
      id: this.args.id,
      name: this.flags.name,
      domains: this.flags.domain,
      server: this.flags.server,
      database: this.flags.database,
      status: this.flags.status as (typeof TENANT_STATUSES)[number],
      migrate: this.flags.migrate,
      seed: this.flags.seed,
      classes,
    };
    validateNewTenant(input);
    this.auditTenant = input.id;
    const ctx = await this.context();
    const extraSteps = migrations?.provisioningSteps(ctx, {
      seeders: this.flags.seed ? migrations.seedersFor(ctx, classes) : [],
      onMigrated: (result) =>
        this.note(
          `  ✓ schema: ${result.fromSnapshot ? `snapshot (${result.fromSnapshot} migrations) + ` : ''}${result.applied.length} migration${result.applied.length === 1 ? '' : 's'} run`,
        ),
      onSeeded: (run) => this.note(`  ✓ seeded ${run.name} (${run.ms}ms)`),
    });
    const tenant = await createTenant(ctx, input, {
      afterStep: (step) => this.note(`  ✓ ${step}`),
      extraSteps,
    });
    const registry = await ctx.registry();
    this.auditTenant = tenant.id;
    const view = tenantView(tenant, await registry.listDomains([tenant.id]));
    this.log(
      `Created tenant ${view.id} (database ${view.database} on server ${view.server}${view.dbUser ? `, user ${view.dbUser}` : ''})`,
    );
    return view;
  }
}

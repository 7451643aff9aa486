import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { TenantView } from '../../lib/tenants/index.js';

export default class TenantAdopt extends BaseCommand<typeof TenantAdopt> {
  static summary = 'Register a database that already exists as a tenant, without touching its data';
  static description =
    "For the databases afty diagnose lists as having no tenant, or a fleet created by other tools. The tenant id is the one the registry would have named the database after (tenant_acme → acme), or --id. Refuses a database that does not exist or that a tenant already uses; nothing is changed then. With --create-user the tenant gets its own database user (random password, stored like afty's own); without it, tenant work connects with the server's credentials. Migrations are not run: see afty db status.";
  static examples = [
    '<%= config.bin %> tenant adopt tenant_acme',
    '<%= config.bin %> tenant adopt legacy_shop --id shop --server eu --create-user',
  ];
  static audited = true;

  static args = {
    database: Args.string({ description: 'name of the existing database', required: true }),
  };

  static flags = {
    id: Flags.string({ description: 'tenant id [default: from the database name]' }),
    server: Flags.string({ description: 'server holding the database [default: the one that has it]' }),
    'create-user': Flags.boolean({ description: 'create a database user of its own for the tenant' }),
  };

  async run(): Promise<TenantView> {
    const { adoptTenant } = await import('../../lib/tenants/adopt.js');
    const { tenantView } = await import('../../lib/tenants/index.js');
    this.auditTenant = this.flags.id;
    const ctx = await this.context();
    const tenant = await adoptTenant(
      ctx,
      {
        database: this.args.database,
        id: this.flags.id,
        server: this.flags.server,
        createUser: this.flags['create-user'],
      },
      { afterStep: (step) => this.note(`  ✓ ${step}`) },
    );
    this.auditTenant = tenant.id;
    const registry = await ctx.registry();
    const view = tenantView(tenant, await registry.listDomains([tenant.id]));
    this.log(
      `Adopted database ${view.database} on server ${view.server} as tenant ${view.id}${view.dbUser ? ` (user ${view.dbUser})` : ''}`,
    );
    return view;
  }
}

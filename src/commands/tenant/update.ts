import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { TenantView } from '../../lib/tenants/index.js';

export default class TenantUpdate extends BaseCommand<typeof TenantUpdate> {
  static summary = "Change a tenant's name, settings, maintenance mode or homepage flag";
  static examples = [
    '<%= config.bin %> tenant update acme --name "Acme GmbH" --set plan=pro --set limits.users=50',
    '<%= config.bin %> tenant update acme --maintenance on --message "Back at 14:00" --allow-ip 203.0.113.7 --retry-after 600',
    '<%= config.bin %> tenant update acme --maintenance off --set plan=',
  ];
  static audited = true;

  static args = {
    tenant: Args.string({ description: 'tenant id or domain', required: true }),
  };

  static flags = {
    name: Flags.string({ description: 'display name' }),
    set: Flags.string({
      multiple: true,
      description: 'setting key=value (JSON values parsed; key= removes; dots nest)',
    }),
    maintenance: Flags.string({ options: ['on', 'off'], description: 'maintenance mode' }),
    message: Flags.string({ description: 'maintenance message (with --maintenance on)' }),
    'allow-ip': Flags.string({
      multiple: true,
      description: 'IP allowed through maintenance (repeatable)',
    }),
    'retry-after': Flags.integer({
      min: 0,
      max: 31_536_000,
      description: 'seconds clients should wait (Retry-After)',
    }),
    homepage: Flags.string({ options: ['on', 'off'], description: 'whether the tenant has a homepage' }),
  };

  async run(): Promise<TenantView> {
    const [{ resolveTenant, tenantView }, { updateTenantSettings }] = await Promise.all([
      import('../../lib/tenants/index.js'),
      import('../../lib/tenants/update.js'),
    ]);
    const changes = {
      name: this.flags.name,
      set: this.flags.set,
      maintenance: this.flags.maintenance as 'on' | 'off' | undefined,
      message: this.flags.message,
      allowIps: this.flags['allow-ip'],
      retryAfter: this.flags['retry-after'],
      homepage: this.flags.homepage as 'on' | 'off' | undefined,
    };
    const ctx = await this.context();
    const registry = await ctx.registry();
    const tenant = await resolveTenant(registry, this.args.tenant);
    this.auditTenant = tenant.id;
    const updated = await updateTenantSettings(registry, tenant, changes);
    this.log(`Updated tenant ${tenant.id}`);
    return tenantView(updated, await registry.listDomains([tenant.id]));
  }
}

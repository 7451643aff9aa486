import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../../lib/ui/base-command.js';

export default class TenantDomainAdd extends BaseCommand<typeof TenantDomainAdd> {
  static summary = 'Add a domain to a tenant (or make an existing one primary with --primary)';
  static examples = [
    '<%= config.bin %> tenant domain add acme shop.acme.example',
    '<%= config.bin %> tenant domain add acme acme.com --primary',
  ];
  static audited = true;

  static args = {
    tenant: Args.string({ description: 'tenant id or domain', required: true }),
    domain: Args.string({ description: 'host name, e.g. acme.example.com', required: true }),
  };

  static flags = {
    primary: Flags.boolean({ description: "make it the tenant's primary domain" }),
  };

  async run(): Promise<{ tenant: string; domains: Array<{ domain: string; primary: boolean }> }> {
    const [{ resolveTenant }, { addDomain }, { validateDomain }] = await Promise.all([
      import('../../../lib/tenants/index.js'),
      import('../../../lib/tenants/domains.js'),
      import('../../../lib/validation/index.js'),
    ]);
    const domain = validateDomain(this.args.domain);
    const registry = await (await this.context()).registry();
    const tenant = await resolveTenant(registry, this.args.tenant);
    this.auditTenant = tenant.id;
    const domains = await addDomain(registry, tenant, domain, this.flags.primary);
    const primary = domains.find((entry) => entry.primary)?.domain === domain;
    this.log(`Added ${domain} to tenant ${tenant.id}${primary ? ' (primary)' : ''}`);
    return {
      tenant: tenant.id,
      domains: domains.map((entry) => ({ domain: entry.domain, primary: entry.primary })),
    };
  }
}

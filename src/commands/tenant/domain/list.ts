import { Args } from '@oclif/core';
import { BaseCommand } from '../../../lib/ui/base-command.js';

export default class TenantDomainList extends BaseCommand<typeof TenantDomainList> {
  static summary = "List domains: one tenant's, or every tenant's";
  static examples = [
    '<%= config.bin %> tenant domain list acme',
    '<%= config.bin %> tenant domain list --json',
  ];

  static args = {
    tenant: Args.string({ description: 'tenant id or domain (default: all tenants)' }),
  };

  async run(): Promise<{
    domains: Array<{ domain: string; tenant: string; primary: boolean; createdAt: string }>;
  }> {
    const { resolveTenant } = await import('../../../lib/tenants/index.js');
    const registry = await (await this.context()).registry();
    const tenantIds = this.args.tenant ? [(await resolveTenant(registry, this.args.tenant)).id] : undefined;
    const domains = (await registry.listDomains(tenantIds)).map((entry) => ({
      domain: entry.domain,
      tenant: entry.tenantId,
      primary: entry.primary,
      createdAt: entry.createdAt,
    }));
    if (!this.jsonEnabled()) {
      if (domains.length === 0) this.log('No domains.');
      else {
        const { renderTable } = await import('../../../lib/ui/output.js');
        this.log(
          await renderTable({
            columns: [
              { header: 'domain', kind: 'id' },
              { header: 'tenant', kind: 'id' },
              { header: 'primary', kind: 'id' },
            ],
            rows: domains.map((entry) => [entry.domain, entry.tenant, entry.primary ? 'yes' : '']),
          }),
        );
      }
    }
    return { domains };
  }
}

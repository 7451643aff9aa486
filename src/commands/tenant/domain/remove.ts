import { Args } from '@oclif/core';
import { BaseCommand } from '../../../lib/ui/base-command.js';

export default class TenantDomainRemove extends BaseCommand<typeof TenantDomainRemove> {
  static summary = 'Remove a domain (if it was primary, the oldest remaining domain becomes primary)';
  static examples = ['<%= config.bin %> tenant domain remove shop.acme.example'];
  static audited = true;

  static args = {
    domain: Args.string({ description: 'the domain to remove', required: true }),
  };

  async run(): Promise<{
    tenant: string;
    domain: string;
    domains: Array<{ domain: string; primary: boolean }>;
  }> {
    const { removeDomain } = await import('../../../lib/tenants/domains.js');
    const registry = await (await this.context()).registry();
    const removed = await removeDomain(registry, this.args.domain);
    this.auditTenant = removed.tenantId;
    const domains = await registry.listDomains([removed.tenantId]);
    this.log(`Removed ${removed.domain} from tenant ${removed.tenantId}`);
    return {
      tenant: removed.tenantId,
      domain: removed.domain,
      domains: domains.map((entry) => ({ domain: entry.domain, primary: entry.primary })),
    };
  }
}

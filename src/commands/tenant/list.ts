import { Flags } from '@oclif/core';
import { REGISTRY_STATUSES } from '../../lib/validation/index.js';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { TenantView } from '../../lib/tenants/index.js';

const SORT_HELP = 'id, name, status, server, created, updated or migrated; prefix - for descending';

export default class TenantList extends BaseCommand<typeof TenantList> {
  static summary = 'List tenants';
  static examples = [
    '<%= config.bin %> tenant list',
    '<%= config.bin %> tenant list --status active --search acme --sort -created --limit 20',
    '<%= config.bin %> tenant list --json',
    '<%= config.bin %> tenant list --csv > tenants.csv',
  ];

  static flags = {
    status: Flags.string({
      multiple: true,
      options: [...REGISTRY_STATUSES],
      description:
        'only this status (repeatable); half-created tenants are listed only with --status provisioning',
    }),
    search: Flags.string({ char: 's', description: 'text in the id, name or a domain' }),
    maintenance: Flags.string({
      options: ['on', 'off'],
      description: 'only tenants in (on) or out of (off) maintenance',
    }),
    server: Flags.string({
      multiple: true,
      description: 'only tenants on this server (repeatable)',
    }),
    sort: Flags.string({ default: 'id', description: SORT_HELP }),
    limit: Flags.integer({ min: 1, max: 1_000_000_000, description: 'at most this many tenants' }),
    offset: Flags.integer({ min: 0, max: 1_000_000_000, default: 0, description: 'skip this many tenants' }),
    csv: Flags.boolean({ description: 'print CSV instead of a table', exclusive: ['json'] }),
  };

  async run(): Promise<{ total: number; tenants: TenantView[] }> {
    const [{ TENANT_SORT_KEYS }, { tenantView }, { InputError }, { validateSearch }] = await Promise.all([
      import('../../lib/registry/index.js'),
      import('../../lib/tenants/index.js'),
      import('../../lib/errors.js'),
      import('../../lib/validation/index.js'),
    ]);
    if (this.flags.search !== undefined) validateSearch(this.flags.search, '--search');
    const descending = this.flags.sort.startsWith('-');
    const key = this.flags.sort.replace(/^-/, '') as (typeof TENANT_SORT_KEYS)[number];
    if (!TENANT_SORT_KEYS.includes(key))
      throw new InputError(`invalid --sort ${JSON.stringify(this.flags.sort)}: use ${SORT_HELP}`);

    const registry = await (await this.context()).registry();
    const filter = {
      status: this.flags.status as Array<(typeof REGISTRY_STATUSES)[number]> | undefined,
      server: this.flags.server,
      search: this.flags.search,
      maintenance: this.flags.maintenance === undefined ? undefined : this.flags.maintenance === 'on',
    };
    const [records, total] = await Promise.all([
      registry.listTenants({
        ...filter,
        sort: { key, descending },
        limit: this.flags.limit,
        offset: this.flags.offset,
      }),
      registry.countTenants(filter),
    ]);
    const domains = await registry.listDomains(
      records.length === total ? undefined : records.map((tenant) => tenant.id),
    );
    const byTenant = new Map<string, typeof domains>();
    for (const domain of domains) {
      const own = byTenant.get(domain.tenantId);
      if (own) own.push(domain);
      else byTenant.set(domain.tenantId, [domain]);
    }
    const tenants = records.map((tenant) => tenantView(tenant, byTenant.get(tenant.id) ?? []));

    if (this.flags.csv) {
      const { csvField } = await import('../../lib/ui/output.js');
      const lines = ['id,name,status,server,database,primary_domain,domains,created_at,last_migrated_at'];
      for (const tenant of tenants) {
        lines.push(
          [
            tenant.id,
            tenant.name,
            tenant.status,
            tenant.server,
            tenant.database,
            tenant.primaryDomain,
            tenant.domains.map((domain) => domain.domain).join(' '),
            tenant.createdAt,
            tenant.lastMigratedAt,
          ]
            .map(csvField)
            .join(','),
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    } else if (!this.jsonEnabled()) {
      if (tenants.length === 0) {
        this.log(total === 0 ? 'No tenants.' : `No tenants on this page (${total} match).`);
      } else {
        const { renderTable, statusColor } = await import('../../lib/ui/output.js');
        this.log(
          await renderTable({
            columns: [
              { header: 'id', kind: 'id' },
              { header: 'name', kind: 'text' },
              { header: 'status', kind: 'id' },
              { header: 'server', kind: 'id' },
              { header: 'database', kind: 'id' },
              { header: 'primary domain', kind: 'id' },
              { header: 'domains', kind: 'id' },
            ],
            rows: tenants.map((tenant) => [
              tenant.id,
              tenant.name,
              statusColor(tenant.status),
              tenant.server,
              tenant.database,
              tenant.primaryDomain,
              tenant.domains.length,
            ]),
          }),
        );
        this.log(`${tenants.length} of ${total} tenant${total === 1 ? '' : 's'}`);
      }
    }
    return { total, tenants };
  }
}

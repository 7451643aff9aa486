import { Args } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { TenantView } from '../../lib/tenants/index.js';

export interface TenantDetails extends TenantView {
  databaseExists: boolean;
  databaseBytes: number | null;
  tableCount: number | null;
}

export default class TenantShow extends BaseCommand<typeof TenantShow> {
  static summary = 'Show everything about a tenant, including its database size and table count';
  static examples = [
    '<%= config.bin %> tenant show acme',
    '<%= config.bin %> tenant show acme.example.com --json',
  ];

  static args = {
    tenant: Args.string({ description: 'tenant id or domain', required: true }),
  };

  async run(): Promise<TenantDetails> {
    const { resolveTenant, tenantView } = await import('../../lib/tenants/index.js');
    const ctx = await this.context();
    const registry = await ctx.registry();
    const tenant = await resolveTenant(registry, this.args.tenant);
    const server = ctx.servers.get(tenant.server);
    const databaseExists = await server.databaseExists(tenant.database);
    const stats = databaseExists ? await server.databaseStats(tenant.database) : null;
    const details: TenantDetails = {
      ...tenantView(tenant, await registry.listDomains([tenant.id])),
      databaseExists,
      databaseBytes: stats?.bytes ?? null,
      tableCount: stats?.tables ?? null,
    };
    if (!this.jsonEnabled()) {
      const { color, formatBytes, statusColor } = await import('../../lib/ui/output.js');
      const line = (label: string, value: string) => this.log(`${color.dim(label.padEnd(15))} ${value}`);
      line('id', color.bold(details.id));
      line('name', details.name);
      line(
        'status',
        `${statusColor(details.status)}${details.statusReason ? ` (${details.statusReason})` : ''}`,
      );
      line('server', `${details.server} (${server.description})`);
      line(
        'database',
        details.databaseExists
          ? `${details.database}: ${formatBytes(details.databaseBytes ?? 0)}, ${details.tableCount} table${details.tableCount === 1 ? '' : 's'}`
          : `${details.database} ${color.red('(missing on the server)')}`,
      );
      line('user', details.dbUser ?? '(server credentials)');
      line(
        'domains',
        details.domains.length
          ? details.domains.map((d) => (d.primary ? `${d.domain} (primary)` : d.domain)).join(', ')
          : '(none)',
      );
      line(
        'maintenance',
        details.maintenance
          ? `on${details.maintenance.message ? `: ${details.maintenance.message}` : ''}${details.maintenance.allowIps.length ? `; allowed ${details.maintenance.allowIps.join(', ')}` : ''}${details.maintenance.retryAfter ? `; retry after ${details.maintenance.retryAfter}s` : ''}`
          : 'off',
      );
      line('homepage', details.homepage ? 'on' : 'off');
      if (Object.keys(details.settings).length) line('settings', JSON.stringify(details.settings));
      line('created', details.createdAt);
      line('updated', details.updatedAt);
      line('last migrated', details.lastMigratedAt ?? 'never');
    }
    return details;
  }
}

import { Flags } from '@oclif/core';
import { fleetFlags } from '../../lib/ui/flags.js';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { TenantCacheUsage } from '../../lib/cache/types.js';

const { tenant, all, status, server, exclude } = fleetFlags;

export default class CacheStats extends BaseCommand<typeof CacheStats> {
  static summary = 'Per-tenant cache keys and memory, largest tenants first';
  static description =
    'Memory is Redis MEMORY USAGE per key; beyond --samples keys a tenant is measured on a uniform sample of that many keys and extrapolated (marked ~). The database store reports exact key and value bytes. Without selection flags every tenant is included.';
  static examples = [
    '<%= config.bin %> cache stats',
    '<%= config.bin %> cache stats --top 20 --samples 5000',
    '<%= config.bin %> cache stats --tenant acme --json',
  ];

  static flags = {
    tenant,
    all,
    status,
    server,
    exclude,
    top: Flags.integer({ min: 0, default: 10, description: 'show the N largest tenants (0 = all)' }),
    samples: Flags.integer({
      min: 1,
      max: 1_000_000,
      default: 1000,
      description: 'keys measured per tenant before sampling',
    }),
  };

  async run(): Promise<{
    store: string;
    target: string;
    samples: number;
    totals: { tenants: number; keys: number; tags: number; bytes: number };
    tenants: TenantCacheUsage[];
  }> {
    const [{ openCacheService }, { isEmptySelection }] = await Promise.all([
      import('../../lib/cache/service.js'),
      import('../../lib/fleet/index.js'),
    ]);
    const ctx = await this.context();
    const selection = isEmptySelection(this.selection(this.flags))
      ? { ...this.flags, all: true }
      : this.flags;
    const selected = await this.selectTenants(selection);
    const service = await openCacheService(ctx);
    try {
      const usage = (await service.usage(selected, this.flags.samples)).sort(
        (a, b) => b.bytes - a.bytes || b.keys - a.keys || a.tenant.localeCompare(b.tenant),
      );
      const totals = {
        tenants: usage.length,
        keys: usage.reduce((sum, row) => sum + row.keys, 0),
        tags: usage.reduce((sum, row) => sum + row.tags, 0),
        bytes: usage.reduce((sum, row) => sum + row.bytes, 0),
      };
      const top = this.flags.top === 0 ? usage : usage.slice(0, this.flags.top);
      if (!this.jsonEnabled()) {
        const { formatBytes, renderTable } = await import('../../lib/ui/output.js');
        if (top.length) {
          this.log(
            await renderTable({
              columns: [
                { header: 'tenant', kind: 'id' },
                { header: 'keys', kind: 'id' },
                { header: 'tags', kind: 'id' },
                { header: 'memory', kind: 'id' },
                { header: 'measured', kind: 'text' },
              ],
              rows: top.map((row) => [
                row.tenant,
                row.keys,
                row.tags,
                `${row.estimated ? '~' : ''}${formatBytes(row.bytes)}`,
                row.estimated ? `sample of ${row.sampled}` : 'all keys',
              ]),
            }),
          );
        }
        this.log(
          `${totals.tenants} tenant${totals.tenants === 1 ? '' : 's'}${top.length < usage.length ? ` (top ${top.length} shown)` : ''}: ${totals.keys} keys, ${totals.tags} tags, ${formatBytes(totals.bytes)} (${service.store}: ${service.target}${service.store === 'redis' ? `; tenants above ${this.flags.samples} keys are sampled` : ''})`,
        );
      }
      return {
        store: service.store,
        target: service.target,
        samples: this.flags.samples,
        totals,
        tenants: top,
      };
    } finally {
      await service.close();
    }
  }
}

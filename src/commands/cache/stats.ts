import { Flags } from '@oclif/core';
import type { TenantCacheUsage } from '../../lib/cache/types.js';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { fleetFlags, selectionFlags } from '../../lib/ui/flags.js';

type CacheStatsJson = FleetJson<
  FleetTenantJson & Omit<TenantCacheUsage, 'tenant'>,
  { keys: number; tags: number; bytes: number }
> & { store: string; target: string; samples: number };

export default class CacheStats extends FleetCommand<typeof CacheStats> {
  static summary = 'Per-tenant cache keys and memory, largest tenants first';
  static description =
    'Memory is Redis MEMORY USAGE per key; beyond --samples keys a tenant is measured on a uniform sample of that many keys and extrapolated (marked ~). The database store reports exact key and value bytes. Without selection flags every tenant is included.';
  static examples = [
    '<%= config.bin %> cache stats',
    '<%= config.bin %> cache stats --top 20 --samples 5000',
    '<%= config.bin %> cache stats --tenant acme --json',
  ];

  static flags = {
    ...selectionFlags,
    concurrency: fleetFlags.concurrency,
    top: Flags.integer({ min: 0, default: 10, description: 'show the N largest tenants (0 = all)' }),
    samples: Flags.integer({
      min: 1,
      max: 1_000_000,
      default: 1000,
      description: 'keys measured per tenant before sampling',
    }),
  };

  async run(): Promise<CacheStatsJson> {
    const [{ openCacheService }, { isEmptySelection, fleetJson }] = await Promise.all([
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
      const scan = await service.usageScan(selected, this.flags.samples);
      const outcome = await this.runOnFleet(selected, (tenant) => scan.of(tenant), {
        verb: 'cache stats',
        quiet: true,
      });
      const measured = outcome.results.filter((result) => result.value);
      const ranked = measured.sort(
        (a, b) =>
          b.value!.bytes - a.value!.bytes ||
          b.value!.keys - a.value!.keys ||
          a.tenant.localeCompare(b.tenant),
      );
      const top = this.flags.top === 0 ? ranked : ranked.slice(0, this.flags.top);
      const usage = measured.map((result) => result.value!);
      const sums = {
        keys: usage.reduce((sum, row) => sum + row.keys, 0),
        tags: usage.reduce((sum, row) => sum + row.tags, 0),
        bytes: usage.reduce((sum, row) => sum + row.bytes, 0),
      };
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
              rows: top.map(({ value: row }) => [
                row!.tenant,
                row!.keys,
                row!.tags,
                `${row!.estimated ? '~' : ''}${formatBytes(row!.bytes)}`,
                row!.estimated ? `sample of ${row!.sampled}` : 'all keys',
              ]),
            }),
          );
        }
        this.log(
          `${usage.length} tenant${usage.length === 1 ? '' : 's'}${top.length < usage.length ? ` (top ${top.length} shown)` : ''}: ${sums.keys} keys, ${sums.tags} tags, ${formatBytes(sums.bytes)} (${service.store}: ${service.target}${service.store === 'redis' ? `; tenants above ${this.flags.samples} keys are sampled` : ''})`,
        );
        if (outcome.totals.ok < outcome.totals.tenants) {
          const { renderFleetSummary } = await import('../../lib/ui/fleet.js');
          this.log(await renderFleetSummary(outcome, { idle: { label: 'measured', test: () => true } }));
        }
      }
      const json = fleetJson(
        top,
        (result) => {
          const { tenant: _tenant, ...row } = result.value!;
          return row;
        },
        { interrupted: outcome.interrupted, totals: sums },
      );
      // The totals count every selected tenant; the rows are the --top largest (and the failures).
      const failures = outcome.results.filter((result) => result.status !== 'ok');
      return {
        store: service.store,
        target: service.target,
        samples: this.flags.samples,
        ...json,
        tenants: [
          ...json.tenants,
          ...fleetJson(failures, () => ({ keys: 0, tags: 0, bytes: 0, sampled: 0, estimated: false }))
            .tenants,
        ],
        totals: { ...fleetJson(outcome.results, () => ({})).totals, ...sums },
      };
    } finally {
      await service.close();
    }
  }
}

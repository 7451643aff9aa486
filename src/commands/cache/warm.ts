import { Flags } from '@oclif/core';
import type { WarmResult } from '../../lib/cache/warm.js';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

type CacheWarmJson = FleetJson<FleetTenantJson> & WarmResult & { target: string; durationMs: number };

export default class CacheWarm extends FleetCommand<typeof CacheWarm> {
  static summary = "Build the central domain → tenant hash and each tenant's metadata hash from the registry";
  static description =
    'Each hash is built under a temporary key and RENAMEd over the old one, so readers never see a half-built map. Metadata hashes of tenants that no longer exist are removed. Needs Redis (cache.url).';
  static examples = ['<%= config.bin %> cache warm', '<%= config.bin %> cache warm --ttl 1h --json'];
  static audited = true;
  static recordsRuns = true;

  static flags = {
    ttl: Flags.string({ description: 'expire the hashes after this long (30s, 5m, 2h, 1d); default: never' }),
    concurrency: fleetFlags.concurrency,
  };

  async run(): Promise<CacheWarmJson> {
    const [
      { openCacheService },
      { warmDomains, warmTenant, removeStaleMetadata },
      { parseDurationSeconds },
      { ConfigError, InputError },
      { fleetJson },
    ] = await Promise.all([
      import('../../lib/cache/service.js'),
      import('../../lib/cache/warm.js'),
      import('../../lib/validation/index.js'),
      import('../../lib/errors.js'),
      import('../../lib/fleet/index.js'),
    ]);
    const ttl = this.flags.ttl === undefined ? undefined : parseDurationSeconds(this.flags.ttl, '--ttl');
    if (ttl === 0) throw new InputError('--ttl must be at least 1 second');
    const ctx = await this.context();
    if (!ctx.config.cache.url) {
      throw new ConfigError('cache warm needs Redis: the database store has no central keys', {
        hint: 'set cache.url or AFTY_REDIS_URL',
      });
    }
    const registry = await ctx.registry();
    const service = await openCacheService(ctx);
    try {
      const started = performance.now();
      const client = service.redis!;
      const { prefix } = ctx.config.cache;
      const { domainsKey, domains } = await warmDomains(client, prefix, registry, { ttl });
      const tenants = await registry.listTenants({});
      const outcome = await this.runOnFleet(
        tenants,
        (tenant) => warmTenant(client, prefix, tenant, { ttl }),
        {
          verb: 'warm',
          quiet: true,
        },
      );
      // Only once every tenant's hash is current: a failed one must not look deleted.
      const removed =
        outcome.totals.ok === tenants.length
          ? await removeStaleMetadata(client, prefix, new Set(tenants.map((tenant) => tenant.id)))
          : 0;
      const durationMs = Math.round(performance.now() - started);
      if (!this.jsonEnabled()) {
        const { formatDuration } = await import('../../lib/ui/output.js');
        this.log(
          `Warmed ${domainsKey} (${domains} domain${domains === 1 ? '' : 's'}) and ${outcome.totals.ok} tenant metadata hash${outcome.totals.ok === 1 ? '' : 'es'}` +
            `${removed ? `; removed ${removed} of deleted tenants` : ''}; ${ttl ? `TTL ${ttl}s` : 'no TTL'}; ${formatDuration(durationMs)}`,
        );
        if (outcome.totals.ok < tenants.length) {
          const { renderFleetSummary } = await import('../../lib/ui/fleet.js');
          this.log(await renderFleetSummary(outcome, { idle: { label: 'warmed', test: () => true } }));
        }
      }
      return {
        domainsKey,
        domains,
        removed,
        ttl: ttl ?? null,
        target: service.target,
        durationMs,
        ...fleetJson(outcome.results, () => ({}), { interrupted: outcome.interrupted }),
      };
    } finally {
      await service.close();
    }
  }
}

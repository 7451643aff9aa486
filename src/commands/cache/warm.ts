import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { WarmResult } from '../../lib/cache/warm.js';

export default class CacheWarm extends BaseCommand<typeof CacheWarm> {
  static summary = "Build the central domain → tenant hash and each tenant's metadata hash from the registry";
  static description =
    'Each hash is built under a temporary key and RENAMEd over the old one, so readers never see a half-built map. Metadata hashes of tenants that no longer exist are removed. Needs Redis (cache.url).';
  static examples = ['<%= config.bin %> cache warm', '<%= config.bin %> cache warm --ttl 1h --json'];
  static audited = true;

  static flags = {
    ttl: Flags.string({ description: 'expire the hashes after this long (30s, 5m, 2h, 1d); default: never' }),
  };

  async run(): Promise<WarmResult & { target: string; durationMs: number }> {
    const [{ openCacheService }, { warmCache }, { parseDurationSeconds }, { ConfigError, InputError }] =
      await Promise.all([
        import('../../lib/cache/service.js'),
        import('../../lib/cache/warm.js'),
        import('../../lib/validation/index.js'),
        import('../../lib/errors.js'),
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
      const result = await warmCache(service.redis!, ctx.config.cache.prefix, registry, { ttl });
      const durationMs = Math.round(performance.now() - started);
      if (!this.jsonEnabled()) {
        const { formatDuration } = await import('../../lib/ui/output.js');
        this.log(
          `Warmed ${result.domainsKey} (${result.domains} domain${result.domains === 1 ? '' : 's'}) and ${result.tenants} tenant metadata hash${result.tenants === 1 ? '' : 'es'}` +
            `${result.removed ? `; removed ${result.removed} of deleted tenants` : ''}; ${ttl ? `TTL ${ttl}s` : 'no TTL'}; ${formatDuration(durationMs)}`,
        );
      }
      return { ...result, target: service.target, durationMs };
    } finally {
      await service.close();
    }
  }
}

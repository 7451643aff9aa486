import { fleetFlags } from '../../lib/ui/flags.js';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { RedisServerStatus } from '../../lib/cache/redis-admin.js';

const { tenant, all, status, server, exclude } = fleetFlags;

export default class CacheStatus extends BaseCommand<typeof CacheStatus> {
  static summary =
    'Show the cache store: reachability, version, mode, memory, eviction policy, keys per tenant';
  static description =
    'Warns when maxmemory-policy can evict tenant keys unexpectedly (allkeys-*: tag sets and central keys can go, so a tag clear can miss keys). Per-tenant key counts appear when tenants are selected.';
  static examples = [
    '<%= config.bin %> cache status',
    '<%= config.bin %> cache status --tenant acme --tenant globex',
    '<%= config.bin %> cache status --all --json',
  ];

  static flags = { tenant, all, status, server, exclude };

  async run(): Promise<
    {
      store: string;
      target: string;
      prefix: string;
      reachable: boolean;
      latencyMs: number | null;
      tenants: Array<{ tenant: string; keys: number; tags: number }>;
    } & Partial<RedisServerStatus>
  > {
    const [{ openCacheService }, { isEmptySelection }] = await Promise.all([
      import('../../lib/cache/service.js'),
      import('../../lib/fleet/index.js'),
    ]);
    const ctx = await this.context();
    const selected = isEmptySelection(this.selection(this.flags)) ? [] : await this.selectTenants(this.flags);
    const service = await openCacheService(ctx);
    try {
      let server: RedisServerStatus | undefined;
      let latencyMs: number | null = null;
      if (service.redis) {
        const { redisServerStatus } = await import('../../lib/cache/redis-admin.js');
        const started = performance.now();
        await service.redis.ping();
        latencyMs = Math.round((performance.now() - started) * 100) / 100;
        server = await redisServerStatus(service.redis);
      }
      const tenants = (await service.usage(selected, 0)).map(({ tenant: id, keys, tags }) => ({
        tenant: id,
        keys,
        tags,
      }));
      const result = {
        store: service.store,
        target: service.target,
        prefix: ctx.config.cache.prefix,
        reachable: true,
        latencyMs,
        ...server,
        tenants,
      };
      if (!this.jsonEnabled()) await this.render(result, server);
      return result;
    } finally {
      await service.close();
    }
  }

  private async render(
    result: {
      store: string;
      target: string;
      prefix: string;
      latencyMs: number | null;
      tenants: Array<{ tenant: string; keys: number; tags: number }>;
    },
    server: RedisServerStatus | undefined,
  ): Promise<void> {
    const { color, formatBytes, renderTable } = await import('../../lib/ui/output.js');
    this.log(`Store:     ${result.store} (${result.target})`);
    if (server) {
      this.log(`Reachable: yes, PING ${result.latencyMs} ms`);
      this.log(`Version:   Redis ${server.version}`);
      this.log(
        `Mode:      ${server.mode} (${server.nodes} ${server.mode === 'cluster' ? 'masters' : 'node'})`,
      );
      this.log(
        `Memory:    ${formatBytes(server.usedMemoryBytes)} used${server.maxmemoryBytes ? ` of ${formatBytes(server.maxmemoryBytes)} maxmemory` : ', no maxmemory limit'}`,
      );
      this.log(`Eviction:  maxmemory-policy ${server.maxmemoryPolicy.join(', ')}`);
      this.log(`Prefix:    ${result.prefix}`);
      for (const warning of server.warnings) this.log(color.yellow(`warning: ${warning}`));
    }
    if (result.tenants.length) {
      this.log(
        await renderTable({
          columns: [
            { header: 'tenant', kind: 'id' },
            { header: 'keys', kind: 'id' },
            { header: 'tags', kind: 'id' },
          ],
          rows: result.tenants.map((row) => [row.tenant, row.keys, row.tags]),
        }),
      );
    }
  }
}

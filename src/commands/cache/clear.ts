import { Flags } from '@oclif/core';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';

type CacheClearJson = FleetJson<FleetTenantJson & { removed: number | null }, { removed: number }> & {
  store: string;
  target: string;
  dryRun: boolean;
  tag: string | null;
  key: string | null;
  removed: number;
};

export default class CacheClear extends FleetCommand<typeof CacheClear> {
  static summary = "Clear tenants' cache keys (all of them, one tag, or a key pattern)";
  static description =
    "Removes keys under each tenant's prefix with SCAN + UNLINK in batches (in a Redis Cluster, by walking the tenant's one slot); never KEYS or FLUSHDB, so other tenants and central keys are untouched. Without Redis it clears the afty_cache tables. --all (or a --status/--server filter) asks for confirmation in a terminal and needs --force elsewhere.";
  static examples = [
    '<%= config.bin %> cache clear --tenant acme',
    '<%= config.bin %> cache clear --tenant acme --tag products',
    '<%= config.bin %> cache clear --tenant acme --key "user:*" --dry-run',
    '<%= config.bin %> cache clear --all --force --json',
  ];
  static audited = true;
  static recordsRuns = true;

  static flags = {
    ...changeFlags,
    tag: Flags.string({ description: 'only the keys in this tag (and the tag itself); not with --key' }),
    key: Flags.string({ description: 'only keys whose name matches this Redis glob, e.g. "user:*"' }),
    'dry-run': Flags.boolean({ description: 'count the keys that would be removed, remove nothing' }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation' }),
  };

  async run(): Promise<CacheClearJson> {
    const [
      { openCacheService, clearTenantCache },
      { validatePattern, validateTag },
      { fleetJson },
      { InputError },
    ] = await Promise.all([
      import('../../lib/cache/service.js'),
      import('../../lib/cache/keyspace.js'),
      import('../../lib/fleet/index.js'),
      import('../../lib/errors.js'),
    ]);
    const { tag, key, force } = this.flags;
    const dryRun = Boolean(this.flags['dry-run']);
    if (tag !== undefined && key !== undefined) {
      throw new InputError('--tag and --key cannot be combined', { hint: 'clear by tag or by key pattern' });
    }
    if (tag !== undefined) validateTag(tag);
    if (key !== undefined) validatePattern(key);
    const tenants = await this.selectTenants(this.flags);
    const service = await openCacheService(await this.context());
    try {
      const broad = this.flags.all || (this.flags.tenant ?? []).length === 0;
      if (!dryRun && broad && tenants.length > 0) {
        const { confirmDestructive } = await import('../../lib/ui/prompts.js');
        const what = tag ? `tag ${tag} of` : key ? `keys matching ${key} of` : 'the cache of';
        await confirmDestructive(
          `clear ${what} ${tenants.length} tenant${tenants.length === 1 ? '' : 's'}`,
          force,
        );
      }
      const verb = dryRun ? 'would be removed' : 'removed';
      const outcome = await this.runOnFleet(
        tenants,
        (tenant) =>
          service.withTenant(tenant, (cache) => clearTenantCache(cache, { tag, pattern: key, dryRun })),
        {
          record: (result) => ({ removed: result.value ?? null }),
          verb: dryRun ? 'count cache keys' : 'clear cache',
          detail: (count) => `${count} keys ${verb}`,
          quiet: tenants.length === 0,
        },
      );
      const removed = outcome.results.reduce((sum, result) => sum + (result.value ?? 0), 0);
      if (!this.jsonEnabled()) {
        if (tenants.length === 0) this.log('No tenants selected: nothing to clear.');
        else
          this.log(`${removed} key${removed === 1 ? '' : 's'} ${verb} (${service.store}: ${service.target})`);
      }
      return {
        store: service.store,
        target: service.target,
        dryRun,
        tag: tag ?? null,
        key: key ?? null,
        removed,
        ...fleetJson(outcome.results, (result) => ({ removed: result.value ?? null }), {
          interrupted: outcome.interrupted,
          totals: { removed },
        }),
      };
    } finally {
      await service.close();
    }
  }
}

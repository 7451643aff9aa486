import { Flags } from '@oclif/core';
import type { PruneResult } from '../../lib/backup/index.js';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

type BackupPruneJson = FleetJson<FleetTenantJson & Omit<PruneResult, 'tenant'>> & {
  dryRun: boolean;
  keep: number;
  maxAge: string;
  /** 0.1 shape, kept until 0.3 (docs/json.md). */
  results: PruneResult[];
};

export default class BackupPrune extends FleetCommand<typeof BackupPrune> {
  static summary =
    'Remove old backups and safety copies: keep the newest N, drop what is older than the maximum age';
  static description = `Per tenant: archives beyond the newest --keep, or older than --max-age, are removed, except that a tenant's newest archive is never removed for age alone. Safety copies left by restores follow the same rule (without that exception); those of a deleted tenant (found through its manifests) are all removed. Hidden .partial files left by interrupted dumps are removed after a day. Defaults come from backup.keep and backup.maxAgeDays. Asks for confirmation in a terminal; --force otherwise (not needed with --dry-run).`;
  static examples = [
    '<%= config.bin %> backup prune --all --dry-run',
    '<%= config.bin %> backup prune --tenant acme --keep 3 --max-age 14d --force',
    '<%= config.bin %> backup prune --all --force --json',
  ];
  static audited = true;
  static recordsRuns = true;

  static flags = {
    tenant: Flags.string({
      char: 't',
      multiple: true,
      default: [],
      description: 'tenant id (repeatable)',
      helpGroup: 'SELECTION',
    }),
    all: Flags.boolean({
      description: 'every tenant with backups or in the registry',
      helpGroup: 'SELECTION',
    }),
    keep: Flags.integer({ description: 'newest backups kept per tenant [default: backup.keep]' }),
    'max-age': Flags.string({
      description: 'remove what is older, e.g. 30d, 12h, 2w [default: backup.maxAgeDays]',
    }),
    'dry-run': Flags.boolean({ description: 'only report what would be removed' }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation' }),
    concurrency: fleetFlags.concurrency,
  };

  async run(): Promise<BackupPruneJson> {
    const [{ backupTenants, parseAge, pruneBackups }, { validateTenantKey }, errors] = await Promise.all([
      import('../../lib/backup/index.js'),
      import('../../lib/validation/index.js'),
      import('../../lib/errors.js'),
    ]);
    const ctx = await this.context();
    const maxAge = this.flags['max-age'] ?? `${ctx.config.backup.maxAgeDays}d`;
    const maxAgeMs = parseAge(maxAge);
    const keep = this.flags.keep ?? ctx.config.backup.keep;
    if (keep < 1) {
      throw new errors.InputError(`--keep must be at least 1 (got ${keep})`, {
        hint: 'a tenant always keeps its newest backup',
      });
    }
    if (!this.flags.all && this.flags.tenant.length === 0) {
      throw new errors.InputError('say whose backups to prune', {
        hint: 'pass --tenant ID (repeatable) or --all',
      });
    }
    const tenants = this.flags.all
      ? [
          ...new Set([
            ...(await backupTenants(ctx.config.backup.directory)),
            ...(await (await ctx.registry()).listTenants({})).map((tenant) => tenant.id),
          ]),
        ].sort()
      : this.flags.tenant.map((id) => validateTenantKey(id));
    if (tenants.length === 1) this.auditTenant = tenants[0];
    const dryRun = Boolean(this.flags['dry-run']);
    if (!dryRun) {
      const { confirmDestructive } = await import('../../lib/ui/prompts.js');
      await confirmDestructive(
        `prune backups and safety copies of ${tenants.length === 1 ? `tenant ${tenants[0]}` : `${tenants.length} tenants`} (keep ${keep}, max age ${maxAge})`,
        this.flags.force,
      );
    }
    // Archives outlive their tenants: a deleted tenant has no server, so no per-server cap applies.
    const servers = new Map(
      (await (await ctx.registry()).listTenants({ ids: tenants })).map((tenant) => [
        tenant.id,
        tenant.server,
      ]),
    );
    const outcome = await this.runOnFleet(
      tenants.map((id) => ({ id, server: servers.get(id) ?? '' })),
      (tenant) => pruneBackups(ctx, tenant.id, { keep, maxAgeMs, dryRun }),
      { verb: dryRun ? 'prune (dry run)' : 'prune', quiet: true },
    );
    const results = outcome.results.flatMap((result) => (result.value ? [result.value] : []));
    if (!this.jsonEnabled()) {
      const removed = results.flatMap((result) =>
        result.removed.map((item) => ({ tenant: result.tenant, ...item })),
      );
      const verb = dryRun ? 'Would remove' : 'Removed';
      if (removed.length > 0) {
        const { renderTable } = await import('../../lib/ui/output.js');
        this.log(
          await renderTable({
            columns: [
              { header: 'tenant', kind: 'id' },
              { header: 'kind', kind: 'id' },
              { header: 'name', kind: 'id' },
              { header: 'created (UTC)', kind: 'id' },
              { header: 'why', kind: 'text' },
            ],
            rows: removed.map((item) => [item.tenant, item.kind, item.name, item.createdAt, item.reason]),
          }),
        );
      }
      const kept = results.reduce((sum, result) => sum + result.kept, 0);
      this.log(`${verb} ${removed.length} item${removed.length === 1 ? '' : 's'}, kept ${kept}`);
      if (outcome.totals.ok < outcome.totals.tenants) {
        const { renderFleetSummary } = await import('../../lib/ui/fleet.js');
        this.log(await renderFleetSummary(outcome, { idle: { label: 'pruned', test: () => true } }));
      }
    }
    const { fleetJson } = await import('../../lib/fleet/index.js');
    return {
      dryRun,
      keep,
      maxAge,
      ...fleetJson(
        outcome.results,
        (result) => ({ removed: result.value?.removed ?? [], kept: result.value?.kept ?? 0 }),
        {
          interrupted: outcome.interrupted,
        },
      ),
      results,
    };
  }
}

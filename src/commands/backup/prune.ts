import { Flags } from '@oclif/core';
import type { PruneResult } from '../../lib/backup/index.js';
import { BaseCommand } from '../../lib/ui/base-command.js';

interface BackupPruneJson {
  dryRun: boolean;
  keep: number;
  maxAge: string;
  results: PruneResult[];
}

export default class BackupPrune extends BaseCommand<typeof BackupPrune> {
  static summary =
    'Remove old backups and safety copies: keep the newest N, drop what is older than the maximum age';
  static description = `Per tenant: archives beyond the newest --keep, or older than --max-age, are removed, except that a tenant's newest archive is never removed for age alone. Safety copies left by restores follow the same rule (without that exception); those of a deleted tenant (found through its manifests) are all removed. Hidden .partial files left by interrupted dumps are removed after a day. Defaults come from backup.keep and backup.maxAgeDays. Asks for confirmation in a terminal; --force otherwise (not needed with --dry-run).`;
  static examples = [
    '<%= config.bin %> backup prune --all --dry-run',
    '<%= config.bin %> backup prune --tenant acme --keep 3 --max-age 14d --force',
    '<%= config.bin %> backup prune --all --force --json',
  ];
  static audited = true;

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
  };

  async run(): Promise<BackupPruneJson> {
    const [{ backupTenants, parseAge, pruneBackups }, { validateTenantId }, errors] = await Promise.all([
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
      : this.flags.tenant.map((id) => validateTenantId(id));
    if (tenants.length === 1) this.auditTenant = tenants[0];
    const dryRun = this.flags['dry-run'];
    if (!dryRun) {
      const { confirmDestructive } = await import('../../lib/ui/prompts.js');
      await confirmDestructive(
        `prune backups and safety copies of ${tenants.length === 1 ? `tenant ${tenants[0]}` : `${tenants.length} tenants`} (keep ${keep}, max age ${maxAge})`,
        this.flags.force,
      );
    }
    const results: PruneResult[] = [];
    for (const tenant of tenants) results.push(await pruneBackups(ctx, tenant, { keep, maxAgeMs, dryRun }));
    if (!this.jsonEnabled()) {
      const removed = results.flatMap((result) =>
        result.removed.map((item) => ({ tenant: result.tenant, ...item })),
      );
      const verb = dryRun ? 'Would remove' : 'Removed';
      if (removed.length > 0) {
        const { renderTable } = await import('../../lib/ui/output.js');
        this.log(
          await renderTable({
            head: ['tenant', 'kind', 'name', 'created (UTC)', 'why'],
            rows: removed.map((item) => [item.tenant, item.kind, item.name, item.createdAt, item.reason]),
          }),
        );
      }
      const kept = results.reduce((sum, result) => sum + result.kept, 0);
      this.log(`${verb} ${removed.length} item${removed.length === 1 ? '' : 's'}, kept ${kept}`);
    }
    return { dryRun, keep, maxAge, results };
  }
}

import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';

export default class TenantDelete extends BaseCommand<typeof TenantDelete> {
  static summary = 'Delete a tenant: its database, its database user, its cache keys and its registry rows';
  static description =
    "Takes a backup of the database first (as afty backup create; skipped with --no-backup or --keep-database); if the backup fails, nothing is deleted. Then removes the tenant's Redis keys and central cache entries, its restore safety copies (kept with --keep-database), its database and user. Asks for confirmation in a terminal (default no); elsewhere --force is required.";
  static examples = [
    '<%= config.bin %> tenant delete acme',
    '<%= config.bin %> tenant delete acme --keep-database --force',
    '<%= config.bin %> tenant delete acme --no-backup --force',
  ];
  static audited = true;

  static args = {
    tenant: Args.string({ description: 'tenant id or domain', required: true }),
  };

  static flags = {
    'keep-database': Flags.boolean({ description: 'keep the database (only the user and registry rows go)' }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation' }),
    backup: Flags.boolean({
      default: true,
      allowNo: true,
      description: 'back up the database before dropping it (--no-backup skips it)',
    }),
  };

  async run(): Promise<{
    id: string;
    database: string;
    databaseDropped: boolean;
    userDropped: boolean;
    safetyCopies: string[];
    cacheKeys: number;
    backup: string | null;
  }> {
    const [{ resolveTenant, deleteTenant }, { confirmDestructive }] = await Promise.all([
      import('../../lib/tenants/index.js'),
      import('../../lib/ui/prompts.js'),
    ]);
    const ctx = await this.context();
    const tenant = await resolveTenant(await ctx.registry(), this.args.tenant);
    this.auditTenant = tenant.id;
    const what = this.flags['keep-database']
      ? 'its user and registry rows'
      : `database ${tenant.database}, its user and registry rows`;
    await confirmDestructive(`delete tenant ${tenant.id} (${what})`, this.flags.force);
    let backup: string | null = null;
    // A delete re-run after a failure may find the database gone already, and a half-created
    // tenant's database holds nothing yet: no backup to take.
    const provisioning = tenant.status === 'provisioning';
    const exists = !provisioning && (await ctx.servers.get(tenant.server).databaseExists(tenant.database));
    if (this.flags.backup && !this.flags['keep-database'] && !exists && !this.jsonEnabled()) {
      this.note(
        provisioning
          ? `Tenant ${tenant.id} is half-created: no backup to take`
          : `Database ${tenant.database} no longer exists: no backup to take`,
      );
    }
    if (this.flags.backup && !this.flags['keep-database'] && exists) {
      const [{ createBackup }, { AftyError, ExitCode, tenantErrorMessage }] = await Promise.all([
        import('../../lib/backup/index.js'),
        import('../../lib/errors.js'),
      ]);
      if (!this.jsonEnabled()) this.note(`Backing up ${tenant.database} first…`);
      const entry = await createBackup(ctx, tenant, {
        compress: true,
        aftyVersion: this.config.version,
      }).catch((error: unknown) => {
        // Keep the cause's exit code (a missing dump tool stays 3), but say that nothing was deleted.
        throw new AftyError(
          `backup before delete failed: ${tenantErrorMessage(error, tenant.id)}`,
          error instanceof AftyError ? error.exitCode : ExitCode.failed,
          error instanceof AftyError ? error.code : 'operation_failed',
          { tenant: tenant.id, hint: 'nothing was deleted; fix the cause or pass --no-backup', cause: error },
        );
      });
      backup = entry.path;
      if (!this.jsonEnabled()) this.note(`Backup: ${backup}`);
    }
    const result = await deleteTenant(ctx, tenant, { keepDatabase: this.flags['keep-database'] });
    const copies = result.safetyCopies.length;
    this.log(
      `Deleted tenant ${tenant.id}${result.databaseDropped ? `, dropped database ${tenant.database}` : `, kept database ${tenant.database}`}${copies ? ` and ${copies} safety cop${copies === 1 ? 'y' : 'ies'}` : ''}${result.userDropped ? `, user ${tenant.dbUser}` : ''}${ctx.config.cache.url ? `, ${result.cacheKeys} cache key${result.cacheKeys === 1 ? '' : 's'}` : ''}`,
    );
    return { id: tenant.id, database: tenant.database, ...result, backup };
  }
}

import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { TenantView } from '../../lib/tenants/index.js';

export default class TenantImport extends BaseCommand<typeof TenantImport> {
  static summary = 'Create a tenant from an archive made by afty tenant export';
  static description =
    "Checks the archive first — its entries (manifest.json, then the data, nothing else), the manifest's fields, the data's size and sha256 — and that the id and every domain are free and the server has the archive's engine; a failing check creates nothing (exit 2). Then creates the tenant (database, user, registry row with the exported name, status, settings and domains), loads the data into a scratch database, checks its tables and row counts against the manifest, and swaps it in; if any step fails, nothing of the tenant is left.";
  static examples = [
    '<%= config.bin %> tenant import acme.tar',
    '<%= config.bin %> tenant import acme.tar --id acme-eu --server eu --json',
  ];
  static audited = true;

  static args = {
    file: Args.string({ description: 'archive written by afty tenant export', required: true }),
  };

  static flags = {
    id: Flags.string({ description: "id of the new tenant [default: the exported tenant's]" }),
    server: Flags.string({ description: 'server for the tenant [default: the one with the fewest tenants]' }),
  };

  async run(): Promise<TenantView & { exportedId: string; tables: number; rows: number }> {
    const [{ importTenant }, { tenantView }, { validateTenantKey }] = await Promise.all([
      import('../../lib/tenants/transfer.js'),
      import('../../lib/tenants/index.js'),
      import('../../lib/validation/index.js'),
    ]);
    if (this.flags.id !== undefined) this.auditTenant = validateTenantKey(this.flags.id);
    const ctx = await this.context();
    const result = await importTenant(
      ctx,
      this.args.file,
      { id: this.flags.id, server: this.flags.server },
      { afterStep: (step) => this.note(`  ✓ ${step}`) },
    );
    this.auditTenant = result.tenant.id;
    const view = tenantView(result.tenant, await (await ctx.registry()).listDomains([result.tenant.id]));
    this.log(
      `Imported tenant ${view.id} from ${result.file} (database ${view.database} on server ${view.server}): ${result.tables} tables, ${result.rows} rows`,
    );
    return { ...view, exportedId: result.exportedId, tables: result.tables, rows: result.rows };
  }
}

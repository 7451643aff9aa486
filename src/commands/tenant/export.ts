import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { ExportResult } from '../../lib/tenants/transfer.js';

export default class TenantExport extends BaseCommand<typeof TenantExport> {
  static summary = "Write a tenant's registry row and data to one portable archive another afty imports";
  static description =
    "A tar file (mode 0600) with manifest.json — the tenant id, name, status, settings and domains (never database credentials), the data file's size and sha256, its tables with row counts and applied migrations — and the data: a consistent dump (mariadb-dump --single-transaction, gzip) or a copy of the SQLite database (gzip). Import it with afty tenant import. Refuses to replace FILE unless --force.";
  static examples = [
    '<%= config.bin %> tenant export acme --output acme.tar',
    '<%= config.bin %> tenant export acme -o /srv/handover/acme.tar --force --json',
  ];
  static audited = true;

  static args = {
    tenant: Args.string({ description: 'tenant id or domain', required: true }),
  };

  static flags = {
    output: Flags.string({ char: 'o', description: 'archive to write', required: true }),
    force: Flags.boolean({ char: 'f', description: 'replace FILE if it exists' }),
  };

  async run(): Promise<ExportResult> {
    const [{ exportTenant }, { formatBytes }] = await Promise.all([
      import('../../lib/tenants/transfer.js'),
      import('../../lib/ui/output.js'),
    ]);
    const ctx = await this.context();
    const result = await exportTenant(ctx, this.args.tenant, this.flags.output, {
      force: this.flags.force,
      aftyVersion: this.config.version,
    });
    this.auditTenant = result.tenant;
    this.log(
      `Exported tenant ${result.tenant} to ${result.file} (${formatBytes(result.bytes)}, ${result.tables} tables, ${result.domains} domain${result.domains === 1 ? '' : 's'})`,
    );
    return result;
  }
}

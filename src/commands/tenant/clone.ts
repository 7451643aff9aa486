import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import type { TenantView } from '../../lib/tenants/index.js';

export default class TenantClone extends BaseCommand<typeof TenantClone> {
  static summary = "Create a tenant holding a copy of another tenant's data and settings";
  static description =
    "The new tenant gets its own database, user and registry row (as tenant create), a copy of SRC's settings, and the data of one consistent dump of SRC (mariadb-dump --single-transaction, or SQLite's online backup: SRC keeps serving and is never locked longer than the dump), loaded into a scratch database, checked against the dump's tables and row counts, and swapped in. Domains are not copied: give the clone its own with --domain. If any step fails, nothing of the new tenant is left. Reports whether the copy's checksums equal SRC's afterwards (false when SRC was written meanwhile).";
  static examples = [
    '<%= config.bin %> tenant clone acme acme-staging --domain staging.acme.example.com',
    '<%= config.bin %> tenant clone acme acme-copy --server eu --json',
  ];
  static audited = true;

  static args = {
    source: Args.string({ description: 'tenant to copy (id or domain)', required: true }),
    id: Args.string({ description: 'id of the new tenant', required: true }),
  };

  static flags = {
    server: Flags.string({ description: "server for the new tenant [default: the source's]" }),
    domain: Flags.string({ char: 'd', multiple: true, description: 'domain of the new tenant (repeatable)' }),
    name: Flags.string({ description: 'display name of the new tenant [default: its id]' }),
  };

  async run(): Promise<TenantView & { source: string; tables: number; rows: number; identical: boolean }> {
    const [{ cloneTenant }, { tenantView, validateNewTenant }] = await Promise.all([
      import('../../lib/tenants/copy.js'),
      import('../../lib/tenants/index.js'),
    ]);
    validateNewTenant({ id: this.args.id, name: this.flags.name, domains: this.flags.domain });
    this.auditTenant = this.args.id;
    const ctx = await this.context();
    const result = await cloneTenant(
      ctx,
      this.args.source,
      { id: this.args.id, server: this.flags.server, domains: this.flags.domain, name: this.flags.name },
      { afterStep: (step) => this.note(`  ✓ ${step}`) },
    );
    const view = tenantView(result.tenant, await (await ctx.registry()).listDomains([result.tenant.id]));
    this.log(
      `Cloned ${result.source} into ${view.id} (database ${view.database} on server ${view.server}): ${result.tables} tables, ${result.rows} rows${result.identical ? ', identical to the source' : `; ${result.source} was written during the copy`}`,
    );
    return {
      ...view,
      source: result.source,
      tables: result.tables,
      rows: result.rows,
      identical: result.identical,
    };
  }
}

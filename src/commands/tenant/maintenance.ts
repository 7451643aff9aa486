import { Args, Flags } from '@oclif/core';
import { InputError } from '../../lib/errors.js';
import type { Registry, TenantRecord } from '../../lib/registry/index.js';
import type { TenantView } from '../../lib/tenants/index.js';
import { changeFlags } from '../../lib/ui/flags.js';
import { TenantChangeCommand, type TenantChangeJson } from '../../lib/ui/tenant-change-command.js';

export default class TenantMaintenance extends TenantChangeCommand<typeof TenantMaintenance> {
  static summary = 'Put tenants into maintenance mode or take them out: one tenant, or a fleet';
  static description =
    'The same maintenance settings as tenant update --maintenance (message, IPs allowed through, Retry-After), for one tenant or a selection (--all, --status, --server, --tenant…, --shard). A fleet change asks for confirmation in a terminal and needs --force elsewhere; each tenant changed is audited, and the whole change is recorded as a run.';
  static examples = [
    '<%= config.bin %> tenant maintenance on acme --message "Back at 14:00"',
    '<%= config.bin %> tenant maintenance on --all --message "Upgrading" --allow-ip 203.0.113.7 --force',
    '<%= config.bin %> tenant maintenance off --all --force',
  ];

  static args = {
    mode: Args.string({ options: ['on', 'off'], required: true, description: 'on or off' }),
    tenant: Args.string({
      description: 'tenant id or domain (or select a fleet with --tenant/--all/--status…)',
    }),
  };

  static flags = {
    ...changeFlags,
    message: Flags.string({ description: 'maintenance message (with on)' }),
    'allow-ip': Flags.string({
      multiple: true,
      description: 'IP allowed through maintenance (repeatable, with on)',
    }),
    'retry-after': Flags.integer({
      min: 0,
      max: 31_536_000,
      description: 'seconds clients should wait (with on)',
    }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation (a fleet)' }),
  };

  private get mode(): 'on' | 'off' {
    return this.args.mode as 'on' | 'off';
  }

  protected get verb(): string {
    return `turn maintenance ${this.mode} for`;
  }

  protected validate(): void {
    const details =
      this.flags.message !== undefined ||
      (this.flags['allow-ip'] ?? []).length > 0 ||
      this.flags['retry-after'] !== undefined;
    if (details && this.mode === 'off') {
      throw new InputError('--message, --allow-ip and --retry-after go with maintenance on');
    }
  }

  protected async change(
    registry: Registry,
    tenant: TenantRecord,
  ): Promise<{ before: string; after: string }> {
    const { updateTenantSettings } = await import('../../lib/tenants/update.js');
    const describe = (record: TenantRecord) => (record.settings.maintenance ? 'in maintenance' : 'serving');
    const updated = await updateTenantSettings(registry, tenant, {
      maintenance: this.mode,
      message: this.flags.message,
      allowIps: this.flags['allow-ip'],
      retryAfter: this.flags['retry-after'],
    });
    return { before: describe(tenant), after: describe(updated) };
  }

  async run(): Promise<TenantView | TenantChangeJson> {
    return this.changeTenants(this.args.tenant);
  }
}

import { Args, Flags } from '@oclif/core';
import type { Registry, TenantRecord } from '../registry/index.js';
import type { TenantView } from '../tenants/index.js';
import type { TenantStatus } from '../validation/index.js';
import { changeFlags } from './flags.js';
import { TenantChangeCommand, type TenantChangeJson } from './tenant-change-command.js';

/**
 * activate / suspend / block / deactivate differ only in the status they set: one tenant by its
 * id or domain, or a fleet with the selection flags.
 */
export abstract class TenantStatusCommand extends TenantChangeCommand<typeof TenantStatusCommand> {
  static args = {
    tenant: Args.string({
      description: 'tenant id or domain (or select a fleet with --tenant/--all/--status…)',
    }),
  };
  static flags = {
    ...changeFlags,
    reason: Flags.string({ description: 'why (shown by tenant show; cleared when not given)' }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation (a fleet)' }),
  };

  protected abstract readonly status: TenantStatus;
  private reason?: string | null;

  protected get verb(): string {
    return (
      (
        { active: 'activate', suspended: 'suspend', blocked: 'block', inactive: 'deactivate' } as Record<
          string,
          string
        >
      )[this.status] ?? `set status ${this.status} on`
    );
  }

  /** --reason is checked in run(), before anything changes. */
  protected validate(): void {}

  protected async change(
    registry: Registry,
    tenant: TenantRecord,
  ): Promise<{ before: string; after: string }> {
    await registry.updateTenant(tenant.id, { status: this.status, statusReason: this.reason ?? null });
    return { before: tenant.status, after: this.status };
  }

  async run(): Promise<TenantView | TenantChangeJson> {
    if (this.flags.reason !== undefined) {
      const { validateText } = await import('../validation/index.js');
      this.reason = validateText(this.flags.reason, '--reason', 255);
    }
    return this.changeTenants(this.args.tenant);
  }
}

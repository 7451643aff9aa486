import { Args, Flags } from '@oclif/core';
import type { TenantView } from '../tenants/index.js';
import type { TenantStatus } from '../validation/index.js';
import { BaseCommand } from './base-command.js';

/** activate / suspend / block / deactivate differ only in the status they set. */
export abstract class TenantStatusCommand extends BaseCommand<typeof TenantStatusCommand> {
  static audited = true;
  static args = { tenant: Args.string({ description: 'tenant id or domain', required: true }) };
  static flags = {
    reason: Flags.string({ description: 'why (shown by tenant show; cleared when not given)' }),
  };

  protected abstract readonly status: TenantStatus;

  async run(): Promise<TenantView> {
    const [{ assertProvisioned, resolveTenant, tenantView }, { validateText }] = await Promise.all([
      import('../tenants/index.js'),
      import('../validation/index.js'),
    ]);
    const reason =
      this.flags.reason === undefined ? undefined : validateText(this.flags.reason, '--reason', 255);
    const registry = await (await this.context()).registry();
    const tenant = await resolveTenant(registry, this.args.tenant);
    this.auditTenant = tenant.id;
    await assertProvisioned(registry, tenant);
    await registry.updateTenant(tenant.id, { status: this.status, statusReason: reason ?? null });
    this.log(
      tenant.status === this.status
        ? `Tenant ${tenant.id} was already ${this.status}`
        : `Tenant ${tenant.id}: ${tenant.status} → ${this.status}`,
    );
    return tenantView((await registry.findTenant(tenant.id))!, await registry.listDomains([tenant.id]));
  }
}

import type { Command } from '@oclif/core';
import os from 'node:os';
import type { FleetJson, FleetTenantJson } from '../fleet/index.js';
import type { Registry, TenantRecord } from '../registry/index.js';
import type { TenantView } from '../tenants/index.js';
import { redactArguments } from './base-command.js';
import { FleetCommand } from './fleet-command.js';

export type TenantChangeJson = FleetJson<FleetTenantJson & { before: string | null; after: string | null }>;

/**
 * A registry change (status, maintenance) to one tenant — `afty tenant suspend acme` — or, with
 * the selection flags, to a fleet: confirmed in a terminal (--force elsewhere), run on the fleet
 * engine, audited per tenant, recorded as a run. One tenant by argument answers with the
 * tenant; a fleet with the one fleet --json contract.
 */
export abstract class TenantChangeCommand<T extends typeof Command> extends FleetCommand<T> {
  static audited = true;
  static recordsRuns = true;

  /** What the change is, for the confirmation ("suspend") and the progress view. */
  protected abstract readonly verb: string;

  /** Checks the requested change before anything is touched (bad flags: exit 2). */
  protected abstract validate(): void;

  /** Changes one tenant; returns its state before and after, in words ("active" → "suspended"). */
  protected abstract change(
    registry: Registry,
    tenant: TenantRecord,
  ): Promise<{ before: string; after: string }>;

  protected async changeTenants(named: string | undefined): Promise<TenantView | TenantChangeJson> {
    const [{ assertProvisioned, resolveTenant, tenantView }, { fleetJson }, { confirmDestructive }] =
      await Promise.all([import('../tenants/index.js'), import('../fleet/index.js'), import('./prompts.js')]);
    this.validate();
    const ctx = await this.context();
    const registry = await ctx.registry();
    const flags = this.flags as { force?: boolean; tenant?: string[] };
    if (named !== undefined && !this.selecting()) {
      const tenant = await resolveTenant(registry, named);
      this.auditTenant = tenant.id;
      await assertProvisioned(registry, tenant);
      const { before, after } = await this.change(registry, tenant);
      this.log(
        before === after
          ? `Tenant ${tenant.id} was already ${after}`
          : `Tenant ${tenant.id}: ${before} → ${after}`,
      );
      return tenantView((await registry.findTenant(tenant.id))!, await registry.listDomains([tenant.id]));
    }
    const tenants = await this.selectTenants({
      ...(this.flags as object),
      tenant: [...(named === undefined ? [] : [named]), ...(flags.tenant ?? [])],
    } as Parameters<FleetCommand<T>['selectTenants']>[0]);
    if (tenants.length > 1 || !flags.tenant?.length) {
      await confirmDestructive(
        `${this.verb} ${tenants.length} tenant${tenants.length === 1 ? '' : 's'}`,
        Boolean(flags.force),
      );
    }
    const actor = process.env.AFTY_ACTOR || `${os.userInfo().username}@${os.hostname()}`;
    const outcome = await this.runOnFleet(
      tenants,
      async (tenant) => {
        const change = await this.change(registry, tenant);
        // Each tenant's change is audited on its own, as if changed alone.
        await registry.recordAudit({
          actor,
          command: this.id ?? 'unknown',
          tenantId: tenant.id,
          outcome: 'ok',
          arguments: redactArguments(this.argv),
        });
        return change;
      },
      {
        verb: this.verb,
        detail: (value) =>
          value.before === value.after ? `already ${value.after}` : `${value.before} → ${value.after}`,
        record: (result) => result.value,
      },
    );
    return fleetJson(
      outcome.results,
      (result) => ({ before: result.value?.before ?? null, after: result.value?.after ?? null }),
      { interrupted: outcome.interrupted },
    );
  }

  /** Whether any selection flag was given (the argument alone means one tenant). */
  private selecting(): boolean {
    const flags = this.flags as {
      tenant?: string[];
      all?: boolean;
      status?: string[];
      server?: string[];
      shard?: string;
    };
    return Boolean(
      flags.tenant?.length || flags.all || flags.status?.length || flags.server?.length || flags.shard,
    );
  }
}

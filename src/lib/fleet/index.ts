import pLimit from 'p-limit';
import { InputError, tenantErrorMessage } from '../errors.js';
import type { Registry, TenantRecord } from '../registry/index.js';
import { resolveTenant } from '../tenants/index.js';
import type { TenantStatus } from '../validation/index.js';

export interface FleetSelection {
  /** Ids or domains, from repeatable --tenant. */
  tenants: string[];
  all: boolean;
  status: TenantStatus[];
  server: string[];
  exclude: string[];
}

/** True when the operator named no tenants and no filter: the command must pick or refuse. */
export function isEmptySelection(selection: FleetSelection): boolean {
  return (
    selection.tenants.length === 0 &&
    !selection.all &&
    selection.status.length === 0 &&
    selection.server.length === 0
  );
}

/**
 * Resolves a selection to tenants, in id order. Named tenants must exist; filters narrow both
 * named tenants and --all. Exclusions accept ids or domains.
 */
export async function selectTenants(registry: Registry, selection: FleetSelection): Promise<TenantRecord[]> {
  const excluded = new Set<string>();
  for (const key of selection.exclude) excluded.add((await resolveTenant(registry, key)).id);
  const filter = {
    status: selection.status.length ? selection.status : undefined,
    server: selection.server.length ? selection.server : undefined,
    exclude: [...excluded],
  };
  if (selection.tenants.length > 0) {
    const ids = new Set<string>();
    for (const key of selection.tenants) ids.add((await resolveTenant(registry, key)).id);
    return registry.listTenants({ ...filter, ids: [...ids] });
  }
  return registry.listTenants(filter);
}

export type FleetStatus = 'ok' | 'failed' | 'skipped';

export interface FleetResult<T> {
  tenant: string;
  status: FleetStatus;
  durationMs: number;
  value?: T;
  error?: string;
  /** The original error, for exit-code decisions; not serialised. */
  cause?: unknown;
}

export interface FleetOptions {
  concurrency: number;
  /** Stop starting new tenants after the first failure; the rest are reported as skipped. */
  bail?: boolean;
  onStart?(tenant: TenantRecord): void;
  onFinish?(result: FleetResult<unknown>): void;
}

/** Shared state of one fleet run: whether --bail has tripped. */
export interface FleetRunState {
  bail: boolean;
  bailed: boolean;
}

/**
 * Runs `work` for one tenant and turns the outcome into a result; never throws. Used by
 * runFleet and by the listr2 progress view, so both account for tenants the same way.
 */
export async function runTenant<T>(
  tenant: TenantRecord,
  work: (tenant: TenantRecord) => Promise<T>,
  state: FleetRunState,
): Promise<FleetResult<T>> {
  if (state.bailed) {
    return {
      tenant: tenant.id,
      status: 'skipped',
      durationMs: 0,
      error: 'skipped after an earlier failure (--bail)',
    };
  }
  const started = performance.now();
  try {
    const value = await work(tenant);
    return { tenant: tenant.id, status: 'ok', durationMs: performance.now() - started, value };
  } catch (error) {
    if (state.bail) state.bailed = true;
    return {
      tenant: tenant.id,
      status: 'failed',
      durationMs: performance.now() - started,
      error: tenantErrorMessage(error, tenant.id),
      cause: error,
    };
  }
}

export function assertConcurrency(concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InputError(`--concurrency must be a whole number of at least 1 (got ${concurrency})`);
  }
}

/**
 * Runs `work` once per tenant with bounded concurrency (each worker takes the next tenant as
 * soon as it is free). A failing tenant never stops the others unless `bail` is set.
 * Results come back in the tenants' order.
 */
export async function runFleet<T>(
  tenants: TenantRecord[],
  work: (tenant: TenantRecord) => Promise<T>,
  options: FleetOptions,
): Promise<Array<FleetResult<T>>> {
  assertConcurrency(options.concurrency);
  const limit = pLimit(options.concurrency);
  const state: FleetRunState = { bail: Boolean(options.bail), bailed: false };
  return Promise.all(
    tenants.map((tenant) =>
      limit(async () => {
        if (!state.bailed) options.onStart?.(tenant);
        const result = await runTenant(tenant, work, state);
        options.onFinish?.(result as FleetResult<unknown>);
        return result;
      }),
    ),
  );
}

export interface FleetTotals {
  total: number;
  ok: number;
  failed: number;
  skipped: number;
}

export function fleetTotals(results: Array<FleetResult<unknown>>): FleetTotals {
  return {
    total: results.length,
    ok: results.filter((result) => result.status === 'ok').length,
    failed: results.filter((result) => result.status === 'failed').length,
    skipped: results.filter((result) => result.status === 'skipped').length,
  };
}

/** The JSON form of a fleet result (the cause stays internal). */
export function fleetResultJson<T>(result: FleetResult<T>): Omit<FleetResult<T>, 'cause'> {
  const { cause: _cause, ...rest } = result;
  return { ...rest, durationMs: Math.round(rest.durationMs) };
}

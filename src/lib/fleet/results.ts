import { ExitCode, ServiceError, tenantErrorMessage } from '../errors.js';

/** How one tenant's part of a fleet run ended. */
export const TENANT_OUTCOMES = ['ok', 'failed', 'skipped', 'locked', 'timeout', 'interrupted'] as const;
export type TenantOutcome = (typeof TENANT_OUTCOMES)[number];

/** Outcomes that make a run fail (exit 1): the tenant was attempted and did not get done. */
const FAILURES: ReadonlySet<TenantOutcome> = new Set(['failed', 'locked', 'timeout']);

export function isFailure(outcome: TenantOutcome): boolean {
  return FAILURES.has(outcome);
}

export interface FleetResult<T> {
  tenant: string;
  server: string;
  status: TenantOutcome;
  durationMs: number;
  value?: T;
  /** One line: what went wrong, or why the tenant was skipped. */
  error?: string;
  /** The step that was running when the tenant failed, timed out or was interrupted. */
  step?: string;
  /** The original error, for exit codes and command fields; never serialised. */
  cause?: unknown;
}

/** Counts per outcome; `tenants` is the whole selection. */
export type FleetTotals = { tenants: number } & Record<TenantOutcome, number>;

export function fleetTotals(results: ReadonlyArray<FleetResult<unknown>>): FleetTotals {
  const totals = { tenants: results.length } as FleetTotals;
  for (const outcome of TENANT_OUTCOMES) totals[outcome] = 0;
  for (const result of results) totals[result.status] += 1;
  return totals;
}

/**
 * An error may say which outcome it is (a held migration lock is `locked`, an interrupt
 * `interrupted`, a timeout `timeout`); anything else is `failed`.
 */
export function outcomeOf(error: unknown): TenantOutcome {
  const declared = (error as { fleetStatus?: unknown } | undefined)?.fleetStatus;
  return typeof declared === 'string' && (TENANT_OUTCOMES as readonly string[]).includes(declared)
    ? (declared as TenantOutcome)
    : 'failed';
}

export function failedResult<T>(
  tenant: { id: string; server: string },
  error: unknown,
  durationMs: number,
  step?: string,
): FleetResult<T> {
  return {
    tenant: tenant.id,
    server: tenant.server,
    status: outcomeOf(error),
    durationMs,
    error: tenantErrorMessage(error, tenant.id),
    step,
    cause: error,
  };
}

/**
 * The exit code of a fleet run: 128 + the signal after an interrupt (130 for SIGINT, 143 for
 * SIGTERM), 3 when no tenant got done because their servers were unreachable, 1 when any tenant
 * failed, else 0.
 */
export function fleetExitCode(
  results: ReadonlyArray<FleetResult<unknown>>,
  interruptedBy?: NodeJS.Signals,
): number {
  if (interruptedBy) return signalExitCode(interruptedBy);
  const failures = results.filter((result) => isFailure(result.status));
  if (failures.length === 0) return ExitCode.ok;
  const unreachable = failures.every((result) => result.cause instanceof ServiceError);
  return unreachable && !results.some((result) => result.status === 'ok')
    ? ExitCode.serviceUnavailable
    : ExitCode.failed;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** The shell's convention for a process ended by a signal. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 2);
}

/**
 * The one `--json` row of a tenant in every fleet command: `tenant, status, durationMs, error,
 * step`, then the command's own fields.
 */
export interface FleetTenantJson {
  tenant: string;
  status: TenantOutcome;
  durationMs: number;
  error: string | null;
  step: string | null;
}

/**
 * The one `--json` document of every fleet command. `totals.total` is the 0.1 name of
 * `totals.tenants`, kept until 0.3 (see docs/json.md).
 */
export interface FleetJson<Row extends FleetTenantJson, Totals extends object = object> {
  tenants: Row[];
  totals: FleetTotals & { total: number } & Totals;
  /** The signal that interrupted the run, or null. */
  interrupted: NodeJS.Signals | null;
}

export function tenantJson<T>(result: FleetResult<T>): FleetTenantJson {
  return {
    tenant: result.tenant,
    status: result.status,
    durationMs: Math.round(result.durationMs),
    error: result.error ?? null,
    step: result.step ?? null,
  };
}

/** Builds the document: each row is the common fields plus `fields(result)`. */
export function fleetJson<T, Extra extends object, Totals extends object = object>(
  results: ReadonlyArray<FleetResult<T>>,
  fields: (result: FleetResult<T>) => Extra,
  options: { totals?: Totals; interrupted?: NodeJS.Signals } = {},
): FleetJson<FleetTenantJson & Extra, Totals> {
  const totals = fleetTotals(results);
  return {
    tenants: results.map((result) => ({ ...tenantJson(result), ...fields(result) })),
    totals: { ...totals, total: totals.tenants, ...(options.totals ?? ({} as Totals)) },
    interrupted: options.interrupted ?? null,
  };
}

/** A row of the 0.1 `results` array (backup create / verify, tenant run). */
export interface LegacyResultJson<V> {
  tenant: string;
  status: TenantOutcome;
  durationMs: number;
  error?: string;
  value?: V;
}

/**
 * The 0.1 `results` array of backup create / verify and tenant run, kept beside `tenants` until
 * 0.3 so scripts written against it keep working (docs/json.md).
 */
export function legacyResults<T, V>(
  results: ReadonlyArray<FleetResult<T>>,
  value: (result: FleetResult<T>) => V | undefined = (result) => result.value as V | undefined,
): Array<LegacyResultJson<V>> {
  return results.map((result) => {
    const row: LegacyResultJson<V> = {
      tenant: result.tenant,
      status: result.status,
      durationMs: Math.round(result.durationMs),
    };
    if (result.error !== undefined) row.error = result.error;
    const extra = value(result);
    if (extra !== undefined) row.value = extra;
    return row;
  });
}

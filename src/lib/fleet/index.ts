/**
 * The one fleet engine: selection → scheduler (concurrency, per-server caps, timeouts, bail,
 * interrupts) → per-tenant work that reports events → results and the one --json contract.
 * It never renders: src/lib/ui subscribes to its events.
 */
export { isEmptySelection, selectTenants, type FleetSelection, type SelectionOptions } from './selection.js';
export {
  assertConcurrency,
  runFleet,
  type FleetOutcome,
  type FleetRunOptions,
  type FleetTenant,
  type TenantWork,
} from './scheduler.js';
export { FleetInterrupt } from './interrupt.js';
export type { FleetEvent, FleetEventInput, FleetObserver, TenantProgress } from './events.js';
export {
  TENANT_OUTCOMES,
  failedResult,
  fleetExitCode,
  fleetJson,
  fleetTotals,
  isFailure,
  legacyResults,
  outcomeOf,
  signalExitCode,
  tenantJson,
  type FleetJson,
  type FleetResult,
  type FleetTenantJson,
  type FleetTotals,
  type LegacyResultJson,
  type TenantOutcome,
} from './results.js';

import type { RedisClient } from '../cache/index.js';
import type { AftyContext } from '../context.js';
import type { FleetTenantJson, FleetTotals } from '../fleet/index.js';
import type { TenantRecord } from '../registry/index.js';
import type { DatabaseServer } from '../servers/index.js';

/** The categories of `afty test`, in the order they run. */
export const TEST_CATEGORIES = [
  'connections',
  'isolation',
  'cache',
  'database',
  'performance',
  'security',
] as const;
export type TestCategory = (typeof TEST_CATEGORIES)[number];

/** `afty diagnose` groups its findings by what they are about. */
export type DiagnoseCategory = 'configuration' | 'registry' | 'servers' | 'tenants' | 'migrations' | 'tools';
export type CheckCategory = TestCategory | DiagnoseCategory;

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** What a check's run returns; the runner adds identity and timing. */
export interface CheckOutcome {
  status: CheckStatus;
  /** One line: what was found. */
  message: string;
  details?: Record<string, unknown>;
  /** A remedy naming the tenant or object; defaults to the check's own remedy. */
  remedy?: string;
}

/** Options that shape the probes (flags of `afty test`). */
export interface CheckOptions {
  /** Isolation: how many other tenants each tenant is probed against. */
  sample: number;
  /** Performance: length of the concurrent load. */
  durationMs: number;
  /** Performance: concurrent workers in the load. */
  workers: number;
  /** Performance: p95 query latency above this fails. */
  maxLatencyMs: number;
  /** Performance: p95 connection open time above this fails. */
  maxConnectMs: number;
  /** Performance: share of failed queries (0..1) above this fails. */
  maxErrorRate: number;
}

export const DEFAULT_CHECK_OPTIONS: CheckOptions = {
  sample: 3,
  durationMs: 5000,
  workers: 4,
  maxLatencyMs: 100,
  maxConnectMs: 1000,
  maxErrorRate: 0.01,
};

/** What every check sees: the afty context, the tenants in scope and shared, lazily opened resources. */
export interface CheckContext {
  readonly afty: AftyContext;
  readonly options: CheckOptions;
  /** The selected tenants (per-tenant checks run once for each). */
  selected(): Promise<TenantRecord[]>;
  /** Every tenant that is served (isolation samples targets from it). */
  fleet(): Promise<TenantRecord[]>;
  /** Every registry row, half-created (provisioning) tenants included: what owns databases and users. */
  everyTenant(): Promise<TenantRecord[]>;
  /** The configured Redis (or Cluster), connected once per run; undefined when no Redis is configured. */
  redis(): Promise<RedisClient | undefined>;
  /** Computes a fleet-wide value once per run (e.g. every tenant's schema for drift). */
  shared<T>(key: string, compute: () => Promise<T>): Promise<T>;
}

interface CheckBase {
  /** `<category>.<name>`, stable: used in reports, JUnit and docs. */
  id: string;
  category: CheckCategory;
  title: string;
  /** What to do when it fails. */
  remedy: string;
}

export interface GlobalCheck extends CheckBase {
  scope: 'global';
  run(ctx: CheckContext): Promise<CheckOutcome>;
  /** A safe repair; returns what it did. */
  fix?(ctx: CheckContext): Promise<string>;
}

/** Runs once per configured database server. */
export interface ServerCheck extends CheckBase {
  scope: 'server';
  run(ctx: CheckContext, server: DatabaseServer): Promise<CheckOutcome>;
}

/** Runs once per selected tenant. */
export interface TenantCheck extends CheckBase {
  scope: 'tenant';
  run(ctx: CheckContext, tenant: TenantRecord): Promise<CheckOutcome>;
  /** A safe repair for this tenant; returns what it did. Never drops or deletes. */
  fix?(ctx: CheckContext, tenant: TenantRecord): Promise<string>;
}

export type Check = GlobalCheck | ServerCheck | TenantCheck;

export interface FixReport {
  applied: boolean;
  /** What the fix did, or why it could not. */
  message: string;
}

export interface CheckResult {
  id: string;
  category: CheckCategory;
  title: string;
  tenant: string | null;
  server: string | null;
  status: CheckStatus;
  message: string;
  details: Record<string, unknown>;
  durationMs: number;
  /** Set for warn and fail. */
  remedy: string | null;
  /** Set when diagnose --fix tried to repair this finding. */
  fix?: FixReport;
  /** A required service was unreachable (exit 3); not serialised. */
  serviceDown?: boolean;
}

export interface CheckSummary {
  total: number;
  pass: number;
  warn: number;
  fail: number;
  skip: number;
  durationMs: number;
}

export interface CheckReport {
  command: 'test' | 'diagnose';
  startedAt: string;
  categories: CheckCategory[];
  /** Per tenant, the one fleet --json row (see docs/json.md) with its check counts. */
  tenants: Array<FleetTenantJson & { checks: Record<'pass' | 'warn' | 'fail' | 'skip', number> }>;
  totals: FleetTotals & { total: number };
  /** The signal that interrupted the run, or null. */
  interrupted: NodeJS.Signals | null;
  summary: CheckSummary;
  results: CheckResult[];
}

export const REPORTERS = ['pretty', 'json', 'junit', 'tap'] as const;
export type ReporterName = (typeof REPORTERS)[number];

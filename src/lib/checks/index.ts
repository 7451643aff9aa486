import { InputError } from '../errors.js';
import { cacheChecks, cacheIsolationChecks } from './cache.js';
import { connectionChecks } from './connections.js';
import {
  databasePresent,
  knexTables,
  orphanDatabases,
  pendingMigrations,
  schemaDrift,
  staleLock,
} from './database.js';
import {
  diagnoseGlobalChecks,
  dumpTool,
  evictionPolicy,
  leftoverCredentials,
  tenantUser,
} from './diagnose.js';
import { isolationDatabaseChecks } from './isolation.js';
import { performanceChecks } from './performance.js';
import { securityChecks } from './security.js';
import type { AftyConfig } from '../config/index.js';
import {
  DEFAULT_CHECK_OPTIONS,
  TEST_CATEGORIES,
  type Check,
  type CheckOptions,
  type TestCategory,
} from './types.js';

export * from './types.js';
export { runCheckSession, runChecks, createCheckContext, reportExitCode, reportJson } from './runner.js';
export { readOnlyRegistry } from './diagnose.js';

/** The checks of `afty test`, by category, in the order they run. */
export const TEST_CHECKS: Record<TestCategory, Check[]> = {
  connections: connectionChecks,
  isolation: [...isolationDatabaseChecks, ...cacheIsolationChecks],
  cache: cacheChecks,
  database: [databasePresent, orphanDatabases, knexTables, pendingMigrations, schemaDrift, staleLock],
  performance: performanceChecks,
  security: securityChecks,
};

/** The read-only health checks of `afty diagnose`, in the order they run. */
export const DIAGNOSE_CHECKS: Check[] = [
  ...diagnoseGlobalChecks,
  // The user first: a recreated database is migrated as the tenant's own user.
  tenantUser,
  databasePresent,
  staleLock,
  orphanDatabases,
  evictionPolicy,
  dumpTool,
  leftoverCredentials,
];

/** Resolves `afty test` arguments: none or `all` = every category; unknown names are an input error. */
export function selectCategories(names: string[]): TestCategory[] {
  if (names.length === 0 || names.includes('all')) return [...TEST_CATEGORIES];
  const unknown = names.filter((name) => !(TEST_CATEGORIES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new InputError(`unknown check category ${unknown.map((name) => JSON.stringify(name)).join(', ')}`, {
      hint: `use all or ${TEST_CATEGORIES.join(', ')}`,
    });
  }
  return TEST_CATEGORIES.filter((category) => names.includes(category));
}

export interface TestOptionFlags {
  sample?: number;
  durationS: number;
  workers: number;
  maxLatencyMs?: number;
  maxConnectMs?: number;
  /** A percentage, as typed. */
  maxErrorRate?: string;
}

/** afty test options: flags, else the config's `checks` section, else the defaults. */
export function testOptions(config: AftyConfig['checks'], flags: TestOptionFlags): CheckOptions {
  let errorRatePercent = config.maxErrorRate;
  if (flags.maxErrorRate !== undefined) {
    errorRatePercent = Number(flags.maxErrorRate);
    if (
      !/^\d+(\.\d+)?$/.test(flags.maxErrorRate) ||
      !Number.isFinite(errorRatePercent) ||
      errorRatePercent < 0 ||
      errorRatePercent > 100
    ) {
      throw new InputError(
        `--max-error-rate must be a percentage from 0 to 100 (got ${JSON.stringify(flags.maxErrorRate)})`,
      );
    }
  }
  return {
    sample: flags.sample ?? config.sample ?? DEFAULT_CHECK_OPTIONS.sample,
    durationMs: flags.durationS * 1000,
    workers: flags.workers,
    maxLatencyMs: flags.maxLatencyMs ?? config.maxLatencyMs ?? DEFAULT_CHECK_OPTIONS.maxLatencyMs,
    maxConnectMs: flags.maxConnectMs ?? config.maxConnectMs ?? DEFAULT_CHECK_OPTIONS.maxConnectMs,
    maxErrorRate:
      errorRatePercent === undefined ? DEFAULT_CHECK_OPTIONS.maxErrorRate : errorRatePercent / 100,
  };
}

import type { RedisClient } from '../cache/index.js';
import pLimit from 'p-limit';
import type { AftyContext } from '../context.js';
import {
  AftyError,
  ExitCode,
  LoginRefusedError,
  ServiceError,
  classifyDriverError,
  isConnectionError,
  errorMessage,
  tenantErrorMessage,
  type ExitCodeValue,
} from '../errors.js';
import { selectTenants, type FleetSelection } from '../fleet/index.js';
import type { Registry, TenantRecord } from '../registry/index.js';
import { errorCode, forTenant } from './probes.js';
import { REGISTRY_STATUSES } from '../validation/index.js';
import type {
  Check,
  CheckContext,
  CheckOptions,
  CheckOutcome,
  CheckReport,
  CheckResult,
  CheckSummary,
} from './types.js';

export interface CheckContextInit {
  afty: AftyContext;
  options: CheckOptions;
  selection: FleetSelection;
  /** Opens the registry; diagnose passes one that refuses to upgrade an outdated schema. */
  registry(): Promise<Registry>;
}

/** A CheckContext plus the close() that releases what the checks opened. */
export interface OwnedCheckContext extends CheckContext {
  close(): Promise<void>;
}

export function createCheckContext(init: CheckContextInit): OwnedCheckContext {
  const memo = new Map<string, Promise<unknown>>();
  const shared = <T>(key: string, compute: () => Promise<T>): Promise<T> => {
    let value = memo.get(key) as Promise<T> | undefined;
    if (!value) {
      value = compute();
      memo.set(key, value);
    }
    return value;
  };
  let redis: Promise<RedisClient> | undefined;
  return {
    afty: init.afty,
    options: init.options,
    shared,
    selected: () =>
      shared('tenants:selected', async () => selectTenants(await init.registry(), init.selection)),
    fleet: () => shared('tenants:fleet', async () => (await init.registry()).listTenants()),
    everyTenant: () =>
      shared('tenants:every', async () =>
        (await init.registry()).listTenants({ status: [...REGISTRY_STATUSES] }),
      ),
    async redis() {
      if (!init.afty.config.cache.url) return undefined;
      // Assigned before any await, so concurrent checks share one connection.
      redis ??= import('../cache/connection.js').then(({ connectCache }) =>
        connectCache(init.afty.config.cache),
      );
      // A failed connection is reported by each check that needs it; never retried within a run.
      redis.catch(() => {});
      return redis;
    },
    async close() {
      const client = redis ? await redis.catch(() => undefined) : undefined;
      client?.disconnect();
    },
  };
}

export interface RunChecksOptions {
  concurrency: number;
  /** Stop after the first failure; what did not run is reported as skipped. */
  bail?: boolean;
  /** diagnose --fix: repair failing or warning findings that have a safe fix, then check again. */
  fix?: boolean;
  onResult?(result: CheckResult): void;
}

type Subject = { tenant?: TenantRecord; server?: string };

function failureOf(raw: unknown, tenant?: string): CheckOutcome & { serviceDown: boolean } {
  // A raw driver error about the server (connection limit, unreachable) is a service problem.
  const error = isConnectionError(raw) ? classifyDriverError(raw, { target: 'the server', tenant })! : raw;
  const message = tenant ? tenantErrorMessage(error, tenant) : errorMessage(error);
  const missingDatabase = error instanceof AftyError && errorCode(error.cause) === 'ER_BAD_DB_ERROR';
  if (tenant && (error instanceof LoginRefusedError || missingDatabase)) {
    // The server answered: a missing database or user, or a wrong password, which diagnose finds and fixes.
    return {
      status: 'fail',
      message: message.replace(` — ${(error as AftyError).hint}`, ''),
      remedy: forTenant('diagnose --fix', tenant),
      serviceDown: false,
    };
  }
  // An error that says what to do (e.g. "run afty init") gives the remedy; its message stays one line.
  const hint = error instanceof AftyError ? error.hint : undefined;
  return {
    status: 'fail',
    message: hint ? message.replace(` — ${hint}`, '') : message,
    remedy: hint,
    serviceDown: error instanceof ServiceError,
  };
}

async function runOnce(
  check: Check,
  ctx: CheckContext,
  subject: Subject,
): Promise<CheckOutcome & { serviceDown?: boolean }> {
  try {
    if (check.scope === 'tenant') return await check.run(ctx, subject.tenant!);
    if (check.scope === 'server') return await check.run(ctx, ctx.afty.servers.get(subject.server!));
    return await check.run(ctx);
  } catch (error) {
    return failureOf(error, subject.tenant?.id);
  }
}

function toResult(
  check: Check,
  subject: Subject,
  outcome: CheckOutcome & { serviceDown?: boolean },
  durationMs: number,
): CheckResult {
  const result: CheckResult = {
    id: check.id,
    category: check.category,
    title: check.title,
    tenant: subject.tenant?.id ?? null,
    server: subject.server ?? subject.tenant?.server ?? null,
    status: outcome.status,
    message: outcome.message,
    details: outcome.details ?? {},
    durationMs: Math.round(durationMs * 10) / 10,
    remedy: outcome.status === 'warn' || outcome.status === 'fail' ? (outcome.remedy ?? check.remedy) : null,
  };
  if (outcome.serviceDown) result.serviceDown = true;
  return result;
}

async function applyFix(check: Check, ctx: CheckContext, subject: Subject): Promise<string | undefined> {
  if (check.scope === 'tenant' && check.fix) return check.fix(ctx, subject.tenant!);
  if (check.scope === 'global' && check.fix) return check.fix(ctx);
  return undefined;
}

async function evaluate(
  check: Check,
  ctx: CheckContext,
  subject: Subject,
  fix: boolean,
): Promise<CheckResult> {
  const started = performance.now();
  const outcome = await runOnce(check, ctx, subject);
  const result = toResult(check, subject, outcome, performance.now() - started);
  if (!fix || (result.status !== 'fail' && result.status !== 'warn')) return result;
  let done: string | undefined;
  try {
    done = await applyFix(check, ctx, subject);
  } catch (error) {
    return { ...result, fix: { applied: false, message: errorMessage(error) } };
  }
  if (done === undefined) return result;
  // Checked again, so the report shows the state after the repair, not before it.
  const again = performance.now();
  const after = toResult(check, subject, await runOnce(check, ctx, subject), performance.now() - again);
  return { ...after, fix: { applied: true, message: done } };
}

function skipped(check: Check, subject: Subject, message: string): CheckResult {
  return toResult(check, subject, { status: 'skip', message }, 0);
}

/**
 * Runs checks in order; per-tenant checks run for every selected tenant with bounded
 * concurrency, server checks for every configured server. Never throws for a failing check:
 * failures are results.
 */
export async function runChecks(
  checks: Check[],
  ctx: CheckContext,
  options: RunChecksOptions,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let bailed = false;
  const record = (result: CheckResult) => {
    if (options.bail && result.status === 'fail') bailed = true;
    results.push(result);
    options.onResult?.(result);
  };
  const bailMessage = 'not run: an earlier check failed (--bail)';
  const limit = pLimit(options.concurrency);

  for (const check of checks) {
    if (bailed) {
      record(skipped(check, {}, bailMessage));
      continue;
    }
    if (check.scope === 'global') {
      record(await evaluate(check, ctx, {}, Boolean(options.fix)));
      continue;
    }
    let subjects: Subject[];
    try {
      subjects =
        check.scope === 'server'
          ? ctx.afty.servers.names.map((server) => ({ server }))
          : (await ctx.selected()).map((tenant) => ({ tenant }));
    } catch (error) {
      record(toResult(check, {}, failureOf(error), 0));
      continue;
    }
    if (subjects.length === 0) {
      record(skipped(check, {}, 'no tenants selected'));
      continue;
    }
    const settled = await Promise.all(
      subjects.map((subject) =>
        limit(async () => {
          if (bailed) return skipped(check, subject, bailMessage);
          const result = await evaluate(check, ctx, subject, Boolean(options.fix));
          if (options.bail && result.status === 'fail') bailed = true;
          return result;
        }),
      ),
    );
    for (const result of settled) record(result);
  }
  return results;
}

export interface CheckSessionOptions extends CheckContextInit, RunChecksOptions {
  command: CheckReport['command'];
  checks: Check[];
}

/** Runs the checks in a fresh context and returns the whole report; the context is always closed. */
export async function runCheckSession(session: CheckSessionOptions): Promise<CheckReport> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const ctx = createCheckContext(session);
  try {
    // An unknown --tenant is a mistake in the command line (exit 2), not a finding of every check.
    await ctx.selected().catch((error: unknown) => {
      if (error instanceof AftyError && error.exitCode === ExitCode.invalidInput) throw error;
    });
    const results = await runChecks(session.checks, ctx, session);
    const tenants = await ctx.selected().then(
      (selected) => selected.length,
      () => 0,
    );
    return {
      command: session.command,
      startedAt,
      categories: [...new Set(session.checks.map((check) => check.category))],
      tenants,
      summary: summarize(results, performance.now() - started),
      results,
    };
  } finally {
    await ctx.close();
  }
}

export function summarize(results: CheckResult[], durationMs: number): CheckSummary {
  const count = (status: CheckResult['status']) =>
    results.filter((result) => result.status === status).length;
  return {
    total: results.length,
    pass: count('pass'),
    warn: count('warn'),
    fail: count('fail'),
    skip: count('skip'),
    durationMs: Math.round(durationMs),
  };
}

/** 0 when nothing failed; 3 when a failure was an unreachable service; else 1. */
export function reportExitCode(results: CheckResult[]): ExitCodeValue {
  const failed = results.filter((result) => result.status === 'fail');
  if (failed.length === 0) return ExitCode.ok;
  return failed.some((result) => result.serviceDown) ? ExitCode.serviceUnavailable : ExitCode.failed;
}

/** The report as printed by --json and the json reporter (internal fields dropped). */
export function reportJson(report: CheckReport): CheckReport {
  return {
    ...report,
    results: report.results.map(({ serviceDown: _serviceDown, ...result }) => result),
  };
}

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
import {
  fleetTotals,
  runFleet,
  selectTenants,
  tenantJson,
  type FleetOutcome,
  type FleetResult,
  type FleetSelection,
  type TenantWork,
} from '../fleet/index.js';
import { currentScope } from '../work-scope.js';
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
  TenantCheck,
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

/** Runs per-tenant work on the fleet engine: the command's, with its progress view and interrupts. */
export type TenantRunner = <R>(
  tenants: readonly TenantRecord[],
  work: TenantWork<TenantRecord, R>,
) => Promise<FleetOutcome<R>>;

export interface RunChecksOptions {
  concurrency: number;
  /** Stop after the first failure; what did not run is reported as skipped. */
  bail?: boolean;
  /** diagnose --fix: repair failing or warning findings that have a safe fix, then check again. */
  fix?: boolean;
  onResult?(result: CheckResult): void;
  /** A global or server check is about to run (per-tenant ones report through the engine). */
  onCheckStarted?(check: Check): void;
  /** Default: the engine with `concurrency` and `bail`, no view. */
  runTenants?: TenantRunner;
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

const BAIL_MESSAGE = 'not run: an earlier check failed (--bail)';

/** A tenant whose checks failed under --bail: the engine starts no other tenant. */
class ChecksFailedError extends Error {
  constructor(readonly results: CheckResult[]) {
    super(`${results.filter((result) => result.status === 'fail').length} check(s) failed`);
  }
}

/** Splits the checks into runs: consecutive per-tenant checks go to the engine together. */
function segments(checks: Check[]): Array<{ tenant: TenantCheck[] } | { other: Check }> {
  const parts: Array<{ tenant: TenantCheck[] } | { other: Check }> = [];
  for (const check of checks) {
    const last = parts.at(-1);
    if (check.scope === 'tenant' && last && 'tenant' in last) last.tenant.push(check);
    else parts.push(check.scope === 'tenant' ? { tenant: [check] } : { other: check });
  }
  return parts;
}

export interface ChecksOutcome {
  results: CheckResult[];
  /** Per tenant, for the one fleet --json contract: how its checks went. */
  fleet: Array<FleetResult<CheckResult[]>>;
  interrupted?: NodeJS.Signals;
}

/**
 * Runs checks in order. Global checks run once, server checks for every configured server, and
 * each stretch of per-tenant checks on the fleet engine: a tenant runs them one after another
 * (its steps), tenants run concurrently. Never throws for a failing check: failures are results.
 */
export async function runChecksOnFleet(
  checks: Check[],
  ctx: CheckContext,
  options: RunChecksOptions,
): Promise<ChecksOutcome> {
  const results: CheckResult[] = [];
  const fleet = new Map<string, FleetResult<CheckResult[]>>();
  let bailed = false;
  let interrupted: NodeJS.Signals | undefined;
  const record = (result: CheckResult) => {
    if (options.bail && result.status === 'fail') bailed = true;
    results.push(result);
    options.onResult?.(result);
  };
  const runTenants: TenantRunner =
    options.runTenants ??
    ((tenants, work) => runFleet(tenants, work, { concurrency: options.concurrency, bail: options.bail }));

  for (const part of segments(checks)) {
    if ('other' in part) {
      const check = part.other;
      if (bailed || interrupted) {
        record(skipped(check, {}, interrupted ? `not run: interrupted by ${interrupted}` : BAIL_MESSAGE));
      } else if (check.scope === 'global') {
        options.onCheckStarted?.(check);
        record(await evaluate(check, ctx, {}, Boolean(options.fix)));
      } else {
        options.onCheckStarted?.(check);
        const limit = pLimit(options.concurrency);
        const servers = ctx.afty.servers.names.map((server) => ({ server }));
        for (const result of await Promise.all(
          servers.map((subject) => limit(() => evaluate(check, ctx, subject, Boolean(options.fix)))),
        ))
          record(result);
      }
      continue;
    }
    let tenants: TenantRecord[];
    try {
      tenants = await ctx.selected();
    } catch (error) {
      for (const check of part.tenant) record(toResult(check, {}, failureOf(error), 0));
      continue;
    }
    if (tenants.length === 0) {
      for (const check of part.tenant) record(skipped(check, {}, 'no tenants selected'));
      continue;
    }
    const byTenant = new Map<string, CheckResult[]>();
    if (!bailed && !interrupted) {
      const outcome = await runTenants(tenants, async (tenant, progress) => {
        progress.plan(part.tenant.map((check) => check.id));
        const done: CheckResult[] = [];
        byTenant.set(tenant.id, done);
        for (const check of part.tenant) {
          const stopped = currentScope()?.stop.aborted;
          if (stopped || (options.bail && (bailed || done.some((result) => result.status === 'fail')))) {
            done.push(skipped(check, { tenant }, stopped ? 'not run: interrupted' : BAIL_MESSAGE));
            continue;
          }
          done.push(
            await progress.step(check.id, () => evaluate(check, ctx, { tenant }, Boolean(options.fix))),
          );
        }
        if (options.bail && done.some((result) => result.status === 'fail')) {
          bailed = true;
          throw new ChecksFailedError(done);
        }
        return done;
      });
      interrupted ??= outcome.interrupted;
      for (const result of outcome.results) {
        const earlier = fleet.get(result.tenant);
        const checksOfTenant = byTenant.get(result.tenant) ?? [];
        fleet.set(result.tenant, {
          ...result,
          durationMs: result.durationMs + (earlier?.durationMs ?? 0),
          value: [...(earlier?.value ?? []), ...checksOfTenant],
          status: earlier && earlier.status !== 'ok' ? earlier.status : result.status,
        });
      }
    }
    // In check order, each check's tenants in the order they were selected.
    for (const check of part.tenant) {
      for (const tenant of tenants) {
        const result = byTenant.get(tenant.id)?.find((entry) => entry.id === check.id);
        record(
          result ??
            skipped(check, { tenant }, interrupted ? `not run: interrupted by ${interrupted}` : BAIL_MESSAGE),
        );
      }
    }
  }
  return { results, fleet: [...fleet.values()], interrupted };
}

/** runChecksOnFleet's results alone. */
export async function runChecks(
  checks: Check[],
  ctx: CheckContext,
  options: RunChecksOptions,
): Promise<CheckResult[]> {
  return (await runChecksOnFleet(checks, ctx, options)).results;
}

export interface CheckSessionOptions extends CheckContextInit, RunChecksOptions {
  command: CheckReport['command'];
  checks: Check[];
}

/**
 * A tenant's row in the one fleet --json contract: failed when any of its checks failed (the
 * first failure is its error and step), else how the engine ended it (ok, skipped, interrupted).
 */
function tenantRow(result: FleetResult<CheckResult[]>): CheckReport['tenants'][number] {
  const checks = result.value ?? [];
  const count = (status: CheckResult['status']) => checks.filter((check) => check.status === status).length;
  const failed = checks.find((check) => check.status === 'fail');
  const row = tenantJson(
    failed ? { ...result, status: 'failed', error: failed.message, step: failed.id } : result,
  );
  return {
    ...row,
    checks: { pass: count('pass'), warn: count('warn'), fail: count('fail'), skip: count('skip') },
  };
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
    const { results, fleet, interrupted } = await runChecksOnFleet(session.checks, ctx, session);
    const tenants = fleet.map(tenantRow);
    const totals = fleetTotals(tenants.map((row) => ({ ...row, server: '' }) as FleetResult<unknown>));
    return {
      command: session.command,
      startedAt,
      categories: [...new Set(session.checks.map((check) => check.category))],
      tenants,
      totals: { ...totals, total: totals.tenants },
      interrupted: interrupted ?? null,
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

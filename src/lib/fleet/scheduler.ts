import { InputError } from '../errors.js';
import { TenantTimeoutError, abortReason, abortedWork, runInScope } from '../work-scope.js';
import type { FleetEvent, FleetEventInput, FleetObserver, TenantProgress } from './events.js';
import type { FleetInterrupt } from './interrupt.js';
import { failedResult, fleetTotals, isFailure, type FleetResult, type FleetTotals } from './results.js';

/** What the engine needs of a tenant: who it is and which server its database lives on. */
export interface FleetTenant {
  id: string;
  server: string;
}

export type TenantWork<Tenant extends FleetTenant, T> = (
  tenant: Tenant,
  progress: TenantProgress,
) => Promise<T>;

export interface FleetRunOptions {
  /** Tenants worked on at once, across all servers. */
  concurrency: number;
  /** The most tenants of one server at a time (--per-server, servers.<name>.concurrency); none = no cap. */
  serverLimit?(server: string): number | undefined;
  /** Start no tenant after the first failure. */
  bail?: boolean;
  /** Per-tenant time limit (--timeout, timeouts.tenant); the tenant's work is aborted after it. */
  timeoutMs?: number;
  interrupt?: FleetInterrupt;
  observer?: FleetObserver;
  /** How long aborted work may take to free its locks before the engine stops waiting for it. */
  abortGraceMs?: number;
}

export interface FleetOutcome<T> {
  /** One per tenant, in the order the tenants were given. */
  results: Array<FleetResult<T>>;
  totals: FleetTotals;
  /** The signal that interrupted the run. */
  interrupted?: NodeJS.Signals;
  durationMs: number;
}

export function assertConcurrency(concurrency: number, flag = '--concurrency'): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InputError(`${flag} must be a whole number of at least 1 (got ${concurrency})`);
  }
}

const DEFAULT_ABORT_GRACE_MS = 10_000;

interface Job<Tenant> {
  tenant: Tenant;
  index: number;
}

/**
 * Server queues served round-robin: the next tenant comes from the next server that has work
 * and is under its cap, so a run spanning servers interleaves them instead of draining one
 * first, and a capped server never blocks the others.
 */
class ServerQueues<Tenant extends FleetTenant> {
  private readonly queues = new Map<string, Array<Job<Tenant>>>();
  private readonly running = new Map<string, number>();
  private turn = 0;

  constructor(
    tenants: readonly Tenant[],
    private readonly limit: (server: string) => number,
  ) {
    tenants.forEach((tenant, index) => {
      const queue = this.queues.get(tenant.server) ?? [];
      queue.push({ tenant, index });
      this.queues.set(tenant.server, queue);
    });
  }

  get servers(): number {
    return this.queues.size;
  }

  /** The next job that may start now, or undefined (nothing left, or every server at its cap). */
  take(): Job<Tenant> | undefined {
    const servers = [...this.queues.keys()];
    for (let offset = 0; offset < servers.length; offset += 1) {
      const server = servers[(this.turn + offset) % servers.length]!;
      const queue = this.queues.get(server)!;
      if (queue.length === 0 || (this.running.get(server) ?? 0) >= this.limit(server)) continue;
      this.turn = (this.turn + offset + 1) % servers.length;
      this.running.set(server, (this.running.get(server) ?? 0) + 1);
      return queue.shift();
    }
    return undefined;
  }

  done(server: string): void {
    this.running.set(server, (this.running.get(server) ?? 1) - 1);
  }

  /** Empties the queues (bail, interrupt): what was never started. */
  drain(): Array<Job<Tenant>> {
    const left = [...this.queues.values()].flat();
    for (const queue of this.queues.values()) queue.length = 0;
    return left.sort((a, b) => a.index - b.index);
  }
}

/**
 * The one fleet engine: runs `work` once per tenant with bounded concurrency (work-stealing: a
 * free slot takes the next tenant at once), per-server caps, per-tenant timeouts, --bail and
 * interrupts, and reports every step as an event. A failing tenant never stops the others
 * unless `bail`. Never throws for a tenant's failure: failures are results.
 */
export async function runFleet<Tenant extends FleetTenant, T>(
  tenants: readonly Tenant[],
  work: TenantWork<Tenant, T>,
  options: FleetRunOptions,
): Promise<FleetOutcome<T>> {
  assertConcurrency(options.concurrency);
  const started = performance.now();
  const emit: Emit = (event) => options.observer?.({ ...event, at: performance.now() } as FleetEvent);
  const queues = new ServerQueues(tenants, (server) => options.serverLimit?.(server) ?? Infinity);
  const results: Array<FleetResult<T>> = new Array(tenants.length);
  const interrupt = options.interrupt;
  let active = 0;
  let bailed = false;

  emit({
    type: 'run-started',
    tenants: tenants.length,
    concurrency: options.concurrency,
    servers: queues.servers,
  });
  interrupt?.onSignal((signal, hard) => emit({ type: 'run-stopping', signal, hard, running: active }));

  const runOne = async ({ tenant, index }: Job<Tenant>): Promise<void> => {
    emit({ type: 'tenant-started', tenant: tenant.id, server: tenant.server });
    const result = await runTenant(tenant, work, options, emit);
    results[index] = result;
    if (options.bail && isFailure(result.status)) bailed = true;
    emit({ type: 'tenant-finished', result: result as FleetResult<unknown> });
  };

  await new Promise<void>((resolve) => {
    const pump = () => {
      const halted = () => bailed || Boolean(interrupt?.stop.signal.aborted);
      while (!halted() && active < options.concurrency) {
        const job = queues.take();
        if (!job) break;
        active += 1;
        void runOne(job).finally(() => {
          active -= 1;
          queues.done(job.tenant.server);
          pump();
        });
      }
      if (halted()) {
        const reason = bailed
          ? 'not started: an earlier tenant failed (--bail)'
          : `not started: ${interrupt!.stop.signal.reason instanceof Error ? (interrupt!.stop.signal.reason as Error).message : 'interrupted'}`;
        for (const { tenant, index } of queues.drain()) {
          const skipped: FleetResult<T> = {
            tenant: tenant.id,
            server: tenant.server,
            status: 'skipped',
            durationMs: 0,
            error: reason,
          };
          results[index] = skipped;
          emit({ type: 'tenant-finished', result: skipped as FleetResult<unknown> });
        }
      }
      if (active === 0) resolve();
    };
    // A stop with nothing running must still end the run: pump again when it arrives.
    interrupt?.stop.signal.addEventListener('abort', () => queueMicrotask(pump), { once: true });
    pump();
  });

  const totals = fleetTotals(results);
  const durationMs = performance.now() - started;
  emit({ type: 'run-finished', totals, durationMs, interrupted: interrupt?.signal });
  return { results, totals, interrupted: interrupt?.signal, durationMs };
}

type Emit = (event: FleetEventInput) => void;

/** One tenant: its scope (stop, abort, timeout), its progress events, its result. Never throws. */
async function runTenant<Tenant extends FleetTenant, T>(
  tenant: Tenant,
  work: TenantWork<Tenant, T>,
  options: FleetRunOptions,
  emit: Emit,
): Promise<FleetResult<T>> {
  const started = performance.now();
  const abort = new AbortController();
  const hardAbort = options.interrupt?.abort.signal;
  const relay = () => abort.abort(hardAbort!.reason);
  hardAbort?.addEventListener('abort', relay, { once: true });
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(
          () =>
            abort.abort(
              new TenantTimeoutError(`timed out after ${formatLimit(options.timeoutMs!)}`, {
                tenant: tenant.id,
                hint: 'raise --timeout (or timeouts.tenant in the config)',
              }),
            ),
          options.timeoutMs,
        );
  let current: string | undefined;
  const progress: TenantProgress = {
    plan: (steps) => emit({ type: 'tenant-planned', tenant: tenant.id, steps }),
    stepStarted: (step) => {
      current = step;
      emit({ type: 'step-started', tenant: tenant.id, step });
    },
    stepFinished: (step, facts = {}) => {
      if (current === step) current = undefined;
      emit({
        type: 'step-finished',
        tenant: tenant.id,
        step,
        durationMs: facts.durationMs ?? 0,
        detail: facts.detail,
      });
    },
    async step(step, run, detail) {
      progress.stepStarted(step);
      const stepStarted = performance.now();
      const value = await run();
      progress.stepFinished(step, { durationMs: performance.now() - stepStarted, detail: detail?.(value) });
      return value;
    },
    note: (text) => emit({ type: 'tenant-note', tenant: tenant.id, text }),
    output: (stream, line) => emit({ type: 'tenant-output', tenant: tenant.id, stream, line }),
  };
  const stop = options.interrupt?.stop.signal ?? new AbortController().signal;
  try {
    const running = runInScope({ stop, abort: abort.signal }, () => work(tenant, progress));
    const value = await settleOrGiveUp(running, abort.signal, options.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS);
    return {
      tenant: tenant.id,
      server: tenant.server,
      status: 'ok',
      durationMs: performance.now() - started,
      value,
    };
  } catch (error) {
    const cause = abort.signal.aborted ? abortedWork(abort.signal, error) : error;
    return failedResult(tenant, cause, performance.now() - started, current);
  } finally {
    if (timer) clearTimeout(timer);
    hardAbort?.removeEventListener('abort', relay);
  }
}

/**
 * Waits for the work; once aborted, gives it `graceMs` to end on its own (closing connections
 * makes its queries fail, and it frees its lock on the way out) before giving up on it.
 */
function settleOrGiveUp<T>(running: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const giveUp = () => {
      timer = setTimeout(() => reject(abortReason(signal)), graceMs);
      timer.unref();
    };
    if (signal.aborted) giveUp();
    else signal.addEventListener('abort', giveUp, { once: true });
    running.then(
      (value) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', giveUp);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', giveUp);
        reject(error);
      },
    );
  });
}

function formatLimit(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

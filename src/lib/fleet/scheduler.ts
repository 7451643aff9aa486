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
  /** Start no tenant after the first failure (as maxFailures 1). */
  bail?: boolean;
  /** Start no tenant once this many have failed (--max-failures). */
  maxFailures?: number;
  /**
   * Run in waves of these cumulative sizes (the last takes the rest), pausing between them; the
   * next wave starts only if the ones before went well (see waveGate). `canary`: the first wave
   * must not fail at all.
   */
  waves?: { sizes: number[]; pauseMs?: number; canary?: boolean };
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
  /** Set when waves stopped the run early: after which wave, and why. */
  stoppedAt?: { wave: number; waves: number; reason: string };
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

/** Why a run started no more tenants. */
interface Halt {
  reason: string;
}

/**
 * The one fleet engine: runs `work` once per tenant with bounded concurrency (work-stealing: a
 * free slot takes the next tenant at once), per-server caps, per-tenant timeouts, --bail /
 * --max-failures, waves (a canary first) and interrupts, and reports every step as an event. A
 * failing tenant never stops the others unless one of those says so. Never throws for a
 * tenant's failure: failures are results.
 */
export async function runFleet<Tenant extends FleetTenant, T>(
  tenants: readonly Tenant[],
  work: TenantWork<Tenant, T>,
  options: FleetRunOptions,
): Promise<FleetOutcome<T>> {
  assertConcurrency(options.concurrency);
  const started = performance.now();
  const emit: Emit = (event) => options.observer?.({ ...event, at: performance.now() } as FleetEvent);
  const results: Array<FleetResult<T>> = new Array(tenants.length);
  const interrupt = options.interrupt;
  const maxFailures = options.bail ? 1 : options.maxFailures;
  let active = 0;
  let failures = 0;
  let halt: Halt | undefined;
  let stoppedAt: FleetOutcome<T>['stoppedAt'];

  const jobs = tenants.map((tenant, index) => ({ tenant, index }));
  const waves = splitWaves(jobs, options.waves?.sizes);
  emit({
    type: 'run-started',
    tenants: tenants.length,
    concurrency: options.concurrency,
    servers: new Set(tenants.map((tenant) => tenant.server)).size,
    waves: waves.length,
  });
  interrupt?.onSignal((signal, hard) => emit({ type: 'run-stopping', signal, hard, running: active }));

  const currentHalt = (): Halt | undefined => {
    if (halt) return halt;
    if (interrupt?.stop.signal.aborted) {
      const reason: unknown = interrupt.stop.signal.reason;
      return { reason: reason instanceof Error ? reason.message : 'interrupted' };
    }
    if (maxFailures !== undefined && failures >= maxFailures) {
      halt = {
        reason: options.bail
          ? 'an earlier tenant failed (--bail)'
          : `${failures} tenant${failures === 1 ? '' : 's'} failed (--max-failures ${maxFailures})`,
      };
    }
    return halt;
  };
  const skipAll = (left: Array<Job<Tenant>>, why: Halt) => {
    for (const { tenant, index } of left) {
      const skipped: FleetResult<T> = {
        tenant: tenant.id,
        server: tenant.server,
        status: 'skipped',
        durationMs: 0,
        error: `not started: ${why.reason}`,
      };
      results[index] = skipped;
      emit({ type: 'tenant-finished', result: skipped as FleetResult<unknown> });
    }
  };

  const runWave = (wave: Array<Job<Tenant>>) =>
    new Promise<void>((resolve) => {
      const queues = new ServerQueues(
        wave.map((job) => job.tenant),
        (server) => options.serverLimit?.(server) ?? Infinity,
      );
      const indexOf = new Map(wave.map((job) => [job.tenant, job.index]));
      const pump = () => {
        while (!currentHalt() && active < options.concurrency) {
          const job = queues.take();
          if (!job) break;
          const index = indexOf.get(job.tenant)!;
          active += 1;
          emit({ type: 'tenant-started', tenant: job.tenant.id, server: job.tenant.server });
          void runTenant(job.tenant, work, options, emit)
            .then((result) => {
              results[index] = result;
              if (isFailure(result.status)) failures += 1;
              emit({ type: 'tenant-finished', result: result as FleetResult<unknown> });
            })
            .finally(() => {
              active -= 1;
              queues.done(job.tenant.server);
              pump();
            });
        }
        const stop = currentHalt();
        if (stop)
          skipAll(
            queues.drain().map(({ tenant }) => ({ tenant, index: indexOf.get(tenant)! })),
            stop,
          );
        if (active === 0) resolve();
      };
      // A stop with nothing running must still end the run: pump again when it arrives.
      interrupt?.stop.signal.addEventListener('abort', () => queueMicrotask(pump), { once: true });
      pump();
    });

  for (const [number, wave] of waves.entries()) {
    const before = failures;
    if (waves.length > 1)
      emit({ type: 'wave-started', wave: number + 1, waves: waves.length, tenants: wave.length });
    await runWave(wave);
    if (number === waves.length - 1 || currentHalt()) continue;
    const gate = waveGate(number, waves.length, failures - before, failures, options);
    if (gate) {
      halt = { reason: gate };
      stoppedAt = { wave: number + 1, waves: waves.length, reason: gate };
      for (const later of waves.slice(number + 1)) skipAll(later, halt);
      break;
    }
    if (options.waves?.pauseMs) await pause(options.waves.pauseMs, interrupt?.stop.signal);
  }
  if (!stoppedAt && halt && waves.length > 1) {
    const wave = waves.findIndex((jobs) => jobs.some((job) => results[job.index]?.status === 'skipped'));
    if (wave >= 0) stoppedAt = { wave: wave + 1, waves: waves.length, reason: halt.reason };
  }

  const totals = fleetTotals(results);
  const durationMs = performance.now() - started;
  emit({ type: 'run-finished', totals, durationMs, interrupted: interrupt?.signal, stoppedAt });
  return { results, totals, interrupted: interrupt?.signal, durationMs, stoppedAt };
}

/** Cuts the jobs into waves of the given cumulative sizes (the last wave takes the rest). */
function splitWaves<J>(jobs: J[], sizes: readonly number[] | undefined): J[][] {
  if (!sizes?.length) return [jobs];
  const waves: J[][] = [];
  let start = 0;
  for (const size of sizes) {
    const end = Math.min(jobs.length, Math.max(size, start));
    if (end > start) waves.push(jobs.slice(start, end));
    start = end;
  }
  if (start < jobs.length) waves.push(jobs.slice(start));
  return waves;
}

/**
 * Whether the next wave may start: a canary (the first wave, with --canary) must have no
 * failure at all; later waves stop the run at the first failure, or at --max-failures when given.
 */
function waveGate(
  wave: number,
  waves: number,
  failedInWave: number,
  failedSoFar: number,
  options: FleetRunOptions,
): string | undefined {
  const label = options.waves?.canary && wave === 0 ? 'the canary' : `wave ${wave + 1} of ${waves}`;
  if (options.waves?.canary && wave === 0 && failedInWave > 0) {
    return `${label} failed (${failedInWave} tenant${failedInWave === 1 ? '' : 's'})`;
  }
  if (options.maxFailures === undefined && failedSoFar > 0) {
    return `${label} ended with ${failedSoFar} failure${failedSoFar === 1 ? '' : 's'}`;
  }
  return undefined;
}

/** Waits `ms`, or less when the run is asked to stop. */
function pause(ms: number, stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (stop?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      stop?.removeEventListener('abort', done);
      resolve();
    }
    stop?.addEventListener('abort', done, { once: true });
  });
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

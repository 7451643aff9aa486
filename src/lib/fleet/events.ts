import type { FleetResult, FleetTotals } from './results.js';

/**
 * What a fleet run reports while it runs. The engine emits them; renderers (the live view, plain
 * lines) subscribe. `at` is performance.now() when it happened.
 */
export type FleetEvent = { at: number } & (
  | { type: 'run-started'; tenants: number; concurrency: number; servers: number; waves: number }
  | { type: 'wave-started'; wave: number; waves: number; tenants: number }
  | { type: 'tenant-started'; tenant: string; server: string }
  /** The steps the tenant is about to run, in order (its migrations, its seeders). */
  | { type: 'tenant-planned'; tenant: string; steps: readonly string[] }
  | { type: 'step-started'; tenant: string; step: string }
  | { type: 'step-finished'; tenant: string; step: string; durationMs: number; detail?: string }
  /** A transient status of the tenant ("dumping", "waiting for the lock"). */
  | { type: 'tenant-note'; tenant: string; text: string }
  /** A line a tenant's child process wrote (afty tenant run). */
  | { type: 'tenant-output'; tenant: string; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'tenant-finished'; result: FleetResult<unknown> }
  /** An interrupt arrived: `hard` after the second one (in-flight work is aborted). */
  | { type: 'run-stopping'; signal: NodeJS.Signals; hard: boolean; running: number }
  | {
      type: 'run-finished';
      totals: FleetTotals;
      durationMs: number;
      interrupted?: NodeJS.Signals;
      stoppedAt?: { wave: number; waves: number; reason: string };
    }
);

export type FleetObserver = (event: FleetEvent) => void;

type WithoutTime<E> = E extends unknown ? Omit<E, 'at'> : never;
/** An event as its emitter gives it; the engine stamps `at`. */
export type FleetEventInput = WithoutTime<FleetEvent>;

/** What a tenant's work tells the engine about its progress. */
export interface TenantProgress {
  /** Declares the steps about to run, in order (e.g. the migrations decided under the lock). */
  plan(steps: readonly string[]): void;
  stepStarted(step: string): void;
  stepFinished(step: string, facts?: { durationMs?: number; detail?: string }): void;
  /** Runs `work` as a named step: started, timed, finished (or left as the failing step). */
  step<R>(step: string, work: () => Promise<R>, detail?: (value: R) => string | undefined): Promise<R>;
  note(text: string): void;
  output(stream: 'stdout' | 'stderr', line: string): void;
}

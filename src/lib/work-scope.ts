import { AsyncLocalStorage } from 'node:async_hooks';
import { AftyError, ExitCode } from './errors.js';

/**
 * What the work running now may be asked to do: stop at its next step boundary (a first Ctrl-C),
 * or abort at once (a second Ctrl-C, a tenant timeout).
 *
 * Cancellation has to reach every layer: a knex connection opened deep inside a backup driver, a
 * mariadb-dump child, the loop between two migrations. Threading a signal through each of those
 * signatures would touch every engine function, so the fleet engine runs each tenant's work in a
 * scope, and the few places that own a connection, a child process or a step boundary consult it.
 */
export interface WorkScope {
  /** Aborted: start no new step (the current one may finish). */
  readonly stop: AbortSignal;
  /** Aborted: give up now; connections and child processes of this scope are closed. */
  readonly abort: AbortSignal;
}

const storage = new AsyncLocalStorage<WorkScope>();

/** Runs `work` inside `scope`; everything it awaits sees the same scope. */
export function runInScope<T>(scope: WorkScope, work: () => Promise<T>): Promise<T> {
  return storage.run(scope, work);
}

export function currentScope(): WorkScope | undefined {
  return storage.getStore();
}

/** Why work stopped before it was done: an interrupt (SIGINT, SIGTERM, SIGHUP). */
export class InterruptedError extends AftyError {
  readonly fleetStatus = 'interrupted' as const;
  constructor(message: string, options: { tenant?: string; cause?: unknown } = {}) {
    super(message, ExitCode.failed, 'interrupted', options);
  }
}

/** A tenant's work ran past its --timeout / timeouts.tenant. */
export class TenantTimeoutError extends AftyError {
  readonly fleetStatus = 'timeout' as const;
  constructor(message: string, options: { tenant?: string; hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.failed, 'timeout', options);
  }
}

/**
 * Work cut short by an abort fails with whatever its closed connection said; the abort is the
 * reason. One error per tenant, keeping what the work itself threw as its cause.
 */
export function abortedWork(signal: AbortSignal, error: unknown): Error {
  const reason = abortReason(signal);
  if (reason instanceof TenantTimeoutError) {
    return new TenantTimeoutError(reason.message, { tenant: reason.tenant, hint: reason.hint, cause: error });
  }
  return new InterruptedError(reason.message, {
    tenant: (reason as { tenant?: string }).tenant,
    cause: error,
  });
}

/** The reason an aborted scope carries, as an error to throw. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new InterruptedError('aborted');
}

/**
 * A step boundary: throws when the scope was asked to stop or abort, so the caller ends cleanly
 * (frees its lock, keeps what is done) instead of starting `next`.
 */
export function checkpoint(next: string): void {
  const scope = currentScope();
  if (!scope) return;
  if (scope.abort.aborted) throw abortReason(scope.abort);
  if (scope.stop.aborted) {
    const reason: unknown = scope.stop.reason;
    const why = reason instanceof Error ? reason.message : 'interrupted';
    throw new InterruptedError(`${why}: stopped before ${next}`);
  }
}

/**
 * Calls `close` when the current scope aborts (a connection to destroy, a child to kill) and
 * returns the function that unregisters it. Outside a scope nothing can abort: a no-op.
 */
export function onAbort(close: (reason: Error) => void): () => void {
  const signal = currentScope()?.abort;
  if (!signal) return () => {};
  if (signal.aborted) {
    close(abortReason(signal));
    return () => {};
  }
  const listener = () => close(abortReason(signal));
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

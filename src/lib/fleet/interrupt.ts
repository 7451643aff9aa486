import { InterruptedError } from '../work-scope.js';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Turns SIGINT / SIGTERM / SIGHUP into the fleet engine's two signals. The first asks the run to
 * stop: no new tenant starts and each running one ends after its current step. The second aborts
 * the work in flight (connections closed, child processes killed). Replaces Node's default
 * (exit at once), so locks are freed and the summary is printed.
 */
export class FleetInterrupt {
  readonly stop = new AbortController();
  readonly abort = new AbortController();
  /** The first signal received. */
  signal?: NodeJS.Signals;
  private readonly listeners = new Set<(signal: NodeJS.Signals, hard: boolean) => void>();
  private readonly handler = (signal: NodeJS.Signals) => this.receive(signal);

  /** Listens for the signals until uninstall(). */
  install(): this {
    for (const signal of SIGNALS) process.on(signal, this.handler);
    return this;
  }

  uninstall(): void {
    for (const signal of SIGNALS) process.off(signal, this.handler);
  }

  onSignal(listener: (signal: NodeJS.Signals, hard: boolean) => void): void {
    this.listeners.add(listener);
  }

  /** What a signal does; also how tests and callers interrupt a run without a real signal. */
  receive(signal: NodeJS.Signals): void {
    if (!this.signal) {
      this.signal = signal;
      this.stop.abort(new InterruptedError(`interrupted by ${signal}`));
      for (const listener of this.listeners) listener(signal, false);
      return;
    }
    if (this.abort.signal.aborted) return;
    this.abort.abort(new InterruptedError(`aborted by a second ${signal}`));
    for (const listener of this.listeners) listener(signal, true);
  }
}

import type { Options, ResultPromise } from 'execa';
import { Transform } from 'node:stream';
import type { ServiceError } from './errors.js';
import { watchStalls } from './servers/watchdog.js';
import { onAbort } from './work-scope.js';

/** Process groups of the children alive now, killed if afty itself exits first. */
const alive = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export interface ChildStallWatch {
  /** For the error: what stopped, e.g. "mariadb-dump". */
  what: string;
  /** The server it talks to, host:port. */
  server: string;
  /** Resolves when the child's server answers a fresh connection. */
  probe(): Promise<void>;
}

export interface ScopedChild {
  child: ResultPromise;
  /**
   * A pass-through to put in the child's data path: each chunk through it is progress (the
   * server is answering). A stream, not a 'data' listener, so no chunk is read before the real
   * consumer is attached and backpressure still holds.
   */
  progress(): Transform;
  /** Why afty killed it (abort, dead server), if it did. */
  killedBecause(): Error | undefined;
}

const KILL_GRACE_MS = 3000;

/**
 * Starts a child process in its own process group, so a Ctrl-C in the terminal reaches afty
 * alone: afty decides whether the child finishes (first interrupt) or is killed (second, or a
 * timeout). The child dies with the current work scope's abort, with afty's exit, and, with
 * `watch`, when it stops making progress and its server no longer answers.
 */
export async function startChild(
  file: string,
  args: readonly string[],
  options: Options,
  watch?: ChildStallWatch,
): Promise<ScopedChild> {
  const { execa } = await import('execa');
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const pid of alive) killGroup(pid, 'SIGKILL');
    });
  }
  const child = execa(file, args, { ...options, detached: true, cleanup: false }) as ResultPromise;
  const pid = child.pid;
  let killedBecause: Error | undefined;
  let lastActivity = performance.now();
  const kill = (reason: Error) => {
    if (pid === undefined || killedBecause) return;
    killedBecause = reason;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  if (pid !== undefined) alive.add(pid);
  const unregister = onAbort(kill);
  const unwatch = watch
    ? watchStalls({
        what: watch.what,
        server: watch.server,
        waitingSince: () => lastActivity,
        probe: watch.probe,
        kill: (error: ServiceError) => kill(error),
      })
    : () => {};
  const settled = () => {
    if (pid !== undefined) alive.delete(pid);
    unregister();
    unwatch();
  };
  child.then(settled, settled);
  return {
    child,
    progress: () =>
      new Transform({
        transform(chunk, _encoding, done) {
          lastActivity = performance.now();
          done(null, chunk);
        },
      }),
    killedBecause: () => killedBecause,
  };
}

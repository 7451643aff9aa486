import { ServiceError } from '../errors.js';

/**
 * Notices a server that stopped answering (frozen, SIGSTOPped, a network that drops packets).
 * A slow statement is not a dead server: when something has waited longer than the query
 * timeout, the watchdog opens a fresh connection to the same server; only if that fails too is
 * the work given up (its connections closed, its child killed), with an error that says so. A
 * long ALTER TABLE on a live server is never cut short.
 */
export interface StallWatch {
  /** What is being waited for, for the error ("a query", "mariadb-dump"). */
  readonly what: string;
  /** The server, e.g. host:port: once it is found dead, work that would start there fails at once. */
  readonly server: string;
  /** Since when the watched work has been waiting for the server; undefined while idle. */
  waitingSince(): number | undefined;
  /** Resolves when the server answers a fresh connection; rejects when it does not. */
  probe(): Promise<void>;
  /** Gives up the waiting work. */
  kill(error: ServiceError): void;
}

interface Entry {
  watch: StallWatch;
  /** Last time the server was seen alive (a probe answered). */
  aliveAt: number;
  probing: boolean;
}

let queryTimeoutMs = 60_000;
const entries = new Set<Entry>();
/** Servers found not answering in this process, with the verdict. */
const deadServers = new Map<string, ServiceError>();

/**
 * The verdict on a server found not answering, if any: work that would start there fails at
 * once with it instead of waiting out a connect timeout per tenant.
 */
export function deadServer(server: string): ServiceError | undefined {
  return deadServers.get(server);
}
let ticker: NodeJS.Timeout | undefined;

/** timeouts.queryMs: how long a wait may last before the server is checked. */
export function setQueryTimeout(ms: number): void {
  queryTimeoutMs = ms;
}

export function queryTimeout(): number {
  return queryTimeoutMs;
}

function tick(): void {
  const now = performance.now();
  for (const entry of entries) {
    const since = entry.watch.waitingSince();
    if (since === undefined || entry.probing) continue;
    if (now - Math.max(since, entry.aliveAt) < queryTimeoutMs) continue;
    entry.probing = true;
    entry.watch.probe().then(
      () => {
        entry.aliveAt = performance.now();
        entry.probing = false;
      },
      (error: unknown) => {
        entry.probing = false;
        const seconds = Math.round((performance.now() - since) / 1000);
        const verdict = new ServiceError(
          `server ${entry.watch.server} stopped answering: ${entry.watch.what} got no reply for ${seconds}s and a new connection failed (${(error as Error).message})`,
          {
            hint: 'check the server (is it frozen or overloaded?); raise timeouts.queryMs for slower ones',
            cause: error,
          },
        );
        if (!deadServers.has(entry.watch.server)) deadServers.set(entry.watch.server, verdict);
        entry.watch.kill(verdict);
      },
    );
  }
}

/** Watches until the returned function is called. */
export function watchStalls(watch: StallWatch): () => void {
  const entry: Entry = { watch, aliveAt: 0, probing: false };
  entries.add(entry);
  if (!ticker) {
    ticker = setInterval(tick, Math.min(1000, Math.max(50, queryTimeoutMs / 4)));
    ticker.unref();
  }
  return () => {
    entries.delete(entry);
    if (entries.size === 0 && ticker) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };
}

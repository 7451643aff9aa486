import type { Knex } from 'knex';
import type { DatabaseLocation, NetworkLocation, RawSocket } from './engine.js';
import { engineFor } from './engines/index.js';
import type { ServiceError } from '../errors.js';
import { onAbort } from '../work-scope.js';
import { deadServer, queryTimeout, watchStalls } from './watchdog.js';

/** knex's default logger writes to the console, which breaks JSON and listr output. */
const silentLog = { warn() {}, error() {}, deprecate() {}, debug() {} };

export interface KnexOptions {
  poolMax?: number;
  /** Connect timeout in ms; keeps a dead server from hanging a command. */
  connectTimeoutMs?: number;
  /** Allow several statements per query (restores and snapshots load SQL files). */
  multipleStatements?: boolean;
  /**
   * A pool used across tenants (a server's admin pool, the registry): not closed when the work
   * that happened to open it is aborted.
   */
  shared?: boolean;
}

/** The code of the error a query gets when afty closes its connection (abort, dead server). */
export const CONNECTION_CLOSED = 'AFTY_CONNECTION_CLOSED';

/** What afty knows about a knex it opened: its raw connections and why they were closed. */
interface Tracked {
  sockets: Set<RawSocket>;
  /** Set when the watchdog gave up on the server, or the scope aborted. */
  closedBecause?: Error;
  release(): void;
}

const tracked = new WeakMap<Knex, Tracked>();

/**
 * Why afty closed this knex's connections (a dead server, an abort), if it did: the error to
 * report instead of the driver's "connection lost".
 */
export function closedBecause(db: Knex): Error | undefined {
  return tracked.get(db)?.closedBecause;
}

/** How the watchdog names a server: host:port. */
export function serverKey(location: NetworkLocation): string {
  return `${location.connection.host}:${location.connection.port}`;
}

/** Opens one fresh connection and runs SELECT 1: is the server answering at all? */
export function probeServer(
  location: NetworkLocation,
  timeoutMs = Math.min(10_000, Math.max(1000, queryTimeout())),
): Promise<void> {
  return engineFor(location).liveness!.probe(location, timeoutMs);
}

/**
 * Tracks a network knex: its connections (to close them on abort or when its server stopped
 * answering) and its queries in flight (for the watchdog).
 */
function track(db: Knex, location: NetworkLocation, sockets: Set<RawSocket>, options: KnexOptions): Tracked {
  const inFlight = new Map<string, number>();
  db.on('query', (query: { __knexQueryUid: string }) =>
    inFlight.set(query.__knexQueryUid, performance.now()),
  );
  const settled = (_: unknown, query: { __knexQueryUid: string }) => inFlight.delete(query.__knexQueryUid);
  db.on('query-response', settled);
  db.on('query-error', settled);
  const state: Tracked = { sockets, release: () => {} };
  const closeAll = (reason: Error) => {
    state.closedBecause ??= reason;
    const closing = Object.assign(new Error(`connection closed by afty: ${reason.message}`), {
      code: CONNECTION_CLOSED,
    });
    for (const socket of state.sockets) socket.destroy(closing);
  };
  const unwatch = watchStalls({
    what: 'a query',
    server: serverKey(location),
    waitingSince: () => (inFlight.size ? Math.min(...inFlight.values()) : undefined),
    probe: () => probeServer(location),
    kill: (error: ServiceError) => closeAll(error),
  });
  const unregister = options.shared ? () => {} : onAbort(closeAll);
  state.release = () => {
    unwatch();
    unregister();
  };
  return state;
}

/**
 * The one way afty opens a database: the engine's knex configuration, one connect timeout, and
 * for servers the tracking that lets an abort or the watchdog end work on a dead server.
 */
export async function createKnex(location: DatabaseLocation, options: KnexOptions = {}): Promise<Knex> {
  const { default: knex } = await import('knex');
  const engine = engineFor(location);
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const sockets = new Set<RawSocket>();
  const liveness = engine.liveness;
  if (location.driver !== 'sqlite') {
    // A server the watchdog found dead in this run fails at once, not after a connect timeout each.
    const dead = deadServer(serverKey(location));
    if (dead && !options.shared) throw dead;
  }
  const db = knex({
    ...engine.knexConfig(location, {
      poolMax: options.poolMax ?? 1,
      connectTimeoutMs,
      multipleStatements: options.multipleStatements ?? false,
      afterCreate(raw) {
        const socket = liveness?.socketOf(raw);
        if (!socket) return;
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      },
    }),
    log: silentLog,
  });
  if (location.driver === 'sqlite') return db;
  const state = track(db, location, sockets, options);
  tracked.set(db, state);
  // knex.destroy() ends in client.destroy(), whoever calls it: stop tracking there.
  const client = db.client as { destroy(callback?: unknown): Promise<void> };
  const destroy = client.destroy.bind(client);
  client.destroy = (callback?: unknown) => {
    state.release();
    return destroy(callback);
  };
  return db;
}

/** Opens a knex on `location`, runs `use`, and always destroys it (one short-lived connection). */
export async function withKnex<T>(
  location: DatabaseLocation,
  use: (db: Knex) => Promise<T>,
  options: KnexOptions = {},
): Promise<T> {
  const db = await createKnex(location, options);
  try {
    return await use(db);
  } catch (error) {
    // The driver only saw its connection close; say why afty closed it.
    const reason = closedBecause(db);
    if (reason && reason !== error) throw Object.assign(reason, { cause: reason.cause ?? error });
    throw error;
  } finally {
    await db.destroy();
  }
}

import type { Knex } from 'knex';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseLocation, MysqlConnection } from '../config/urls.js';
import type { ServiceError } from '../errors.js';
import { onAbort } from '../work-scope.js';
import { deadServer, queryTimeout, watchStalls } from './watchdog.js';

/** knex's default logger writes to the console, which breaks JSON and listr output. */
const silentLog = { warn() {}, error() {}, deprecate() {}, debug() {} };

export interface KnexOptions {
  poolMax?: number;
  /** mysql2 connect timeout in ms; keeps a dead server from hanging a command. */
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

/** A mysql2 connection as afty closes it: its socket, destroyed with the reason. */
interface RawConnection {
  stream?: { destroy(error?: Error): void; once(event: 'close', listener: () => void): void };
}

/** What afty knows about a knex it opened: its raw connections and why they were closed. */
interface Tracked {
  connections: Set<RawConnection>;
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
export function serverKey(connection: MysqlConnection): string {
  return `${connection.host}:${connection.port}`;
}

/** Opens one mysql2 connection and runs SELECT 1: is the server answering at all? */
export async function probeMysql(
  connection: MysqlConnection,
  timeoutMs = Math.min(10_000, Math.max(1000, queryTimeout())),
): Promise<void> {
  const { createConnection } = await import('mysql2/promise');
  const probe = await createConnection({ ...connection, connectTimeout: timeoutMs });
  try {
    await probe.query({ sql: 'SELECT 1', timeout: timeoutMs });
  } finally {
    probe.destroy();
  }
}

/**
 * Tracks a MySQL knex: its connections (to close them on abort or when its server stopped
 * answering) and its queries in flight (for the watchdog).
 */
function trackMysql(
  db: Knex,
  connection: MysqlConnection,
  connections: Set<RawConnection>,
  options: KnexOptions,
): Tracked {
  const inFlight = new Map<string, number>();
  db.on('query', (query: { __knexQueryUid: string }) =>
    inFlight.set(query.__knexQueryUid, performance.now()),
  );
  const settled = (_: unknown, query: { __knexQueryUid: string }) => inFlight.delete(query.__knexQueryUid);
  db.on('query-response', settled);
  db.on('query-error', settled);
  const state: Tracked = { connections, release: () => {} };
  const closeAll = (reason: Error) => {
    state.closedBecause ??= reason;
    const closing = Object.assign(new Error(`connection closed by afty: ${reason.message}`), {
      code: CONNECTION_CLOSED,
    });
    for (const raw of state.connections) raw.stream?.destroy(closing);
  };
  const unwatch = watchStalls({
    what: 'a query',
    server: serverKey(connection),
    waitingSince: () => (inFlight.size ? Math.min(...inFlight.values()) : undefined),
    probe: () => probeMysql(connection),
    kill: (error: ServiceError) => closeAll(error),
  });
  const unregister = options.shared ? () => {} : onAbort(closeAll);
  state.release = () => {
    unwatch();
    unregister();
  };
  return state;
}

export async function createKnex(location: DatabaseLocation, options: KnexOptions = {}): Promise<Knex> {
  const { default: knex } = await import('knex');
  if (location.driver === 'sqlite') {
    mkdirSync(path.dirname(location.filename), { recursive: true });
    return knex({
      client: 'better-sqlite3',
      connection: { filename: location.filename },
      useNullAsDefault: true,
      pool: {
        min: 0,
        max: 1,
        afterCreate(
          connection: { pragma(sql: string): unknown },
          done: (error: Error | null, connection: unknown) => void,
        ) {
          // WAL lets readers (list/show) work while a writer holds the database; foreign keys as in MySQL.
          connection.pragma('journal_mode = WAL');
          connection.pragma('foreign_keys = ON');
          connection.pragma('busy_timeout = 5000');
          done(null, connection);
        },
      },
      log: silentLog,
    });
  }
  // A server the watchdog found dead in this run fails at once, not after a connect timeout each.
  const dead = deadServer(serverKey(location.connection));
  if (dead && !options.shared) throw dead;
  const connections = new Set<RawConnection>();
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const db = knex({
    client: 'mysql2',
    connection: {
      ...location.connection,
      // No charset, as plain knex: knex would compile every createTable with `default character
      // set X`, giving tables X's default collation instead of the database's (afty creates
      // databases utf8mb4_unicode_ci). mysql2's own default handshake is utf8mb4_unicode_ci.
      connectTimeout: connectTimeoutMs,
      multipleStatements: options.multipleStatements ?? false,
      supportBigNumbers: true,
      dateStrings: true,
    },
    pool: {
      min: 0,
      max: options.poolMax ?? 1,
      afterCreate(raw: RawConnection, done: (error: Error | null, raw: unknown) => void) {
        connections.add(raw);
        raw.stream?.once('close', () => connections.delete(raw));
        done(null, raw);
      },
    },
    acquireConnectionTimeout: connectTimeoutMs + 1000,
    log: silentLog,
  });
  const state = trackMysql(db, location.connection, connections, options);
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

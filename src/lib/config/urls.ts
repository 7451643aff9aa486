import path from 'node:path';
import { ConfigError } from '../errors.js';

export interface MysqlConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
  database?: string;
}

export type DatabaseLocation =
  | {
      driver: 'mysql';
      connection: MysqlConnection;
      /** Where the user and password came from (a config key or variable), for login errors. */
      source?: string;
    }
  | { driver: 'sqlite'; filename: string };

/** Accepted spellings of the knex/mysql2/sqlite client names in config objects. */
const MYSQL_CLIENTS = new Set(['mysql', 'mysql2', 'mariadb']);
const SQLITE_CLIENTS = new Set(['sqlite', 'sqlite3', 'better-sqlite3']);

export type ConnectionSpec = string | { client: string; connection: unknown };

/**
 * Turns a config value (URL or {client, connection}) into a location. SQLite paths are resolved
 * against `baseDir` (the config file's folder), never the process cwd.
 */
export function parseDatabaseSpec(spec: ConnectionSpec, baseDir: string, key: string): DatabaseLocation {
  if (typeof spec === 'string') return parseDatabaseUrl(spec, baseDir, key);
  if (MYSQL_CLIENTS.has(spec.client)) {
    if (typeof spec.connection === 'string') return parseDatabaseUrl(spec.connection, baseDir, key);
    const connection = spec.connection as Partial<MysqlConnection> | undefined;
    if (!connection || typeof connection !== 'object') {
      throw new ConfigError(`${key}.connection must be a URL or an object with host, port, user`);
    }
    if (connection.database !== undefined) validateDatabaseName(String(connection.database), key);
    return {
      driver: 'mysql',
      source: key,
      connection: {
        host: connection.host ?? '127.0.0.1',
        port: Number(connection.port ?? 3306),
        user: connection.user ?? 'root',
        password: connection.password,
        database: connection.database,
      },
    };
  }
  if (SQLITE_CLIENTS.has(spec.client)) {
    const connection = spec.connection as { filename?: unknown } | string;
    const filename = typeof connection === 'string' ? connection : connection?.filename;
    if (typeof filename !== 'string' || filename === '') {
      throw new ConfigError(`${key}.connection.filename must name a SQLite file`);
    }
    return { driver: 'sqlite', filename: path.resolve(baseDir, filename) };
  }
  throw new ConfigError(
    `${key}.client ${JSON.stringify(spec.client)} is not supported: use mysql2 or sqlite`,
  );
}

export function parseDatabaseUrl(url: string, baseDir: string, key: string): DatabaseLocation {
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (rest === '' || rest === '//')
      throw new ConfigError(`${key}: sqlite URL needs a path, e.g. sqlite:.afty/central.sqlite`);
    return { driver: 'sqlite', filename: path.resolve(baseDir, rest) };
  }
  const parsed = parseUrl(url, key, 'mysql://user:password@host:3306/database or sqlite:path');
  const protocol = parsed.protocol.replace(/:$/, '');
  if (!MYSQL_CLIENTS.has(protocol)) {
    throw new ConfigError(
      `${key} uses unsupported scheme "${protocol}:" (expected mysql:, mariadb: or sqlite:)`,
    );
  }
  const database = decodePart(parsed.pathname.replace(/^\//, ''), key, 'database name');
  if (database) validateDatabaseName(database, key);
  return {
    driver: 'mysql',
    source: key,
    connection: {
      host: parsed.hostname,
      port: parsed.port ? Number(parsed.port) : 3306,
      user: parsed.username ? decodePart(parsed.username, key, 'user name') : 'root',
      password: parsed.password ? decodePart(parsed.password, key, 'password') : undefined,
      database: database || undefined,
    },
  };
}

/** `new URL` with a one-line error naming the key; a host is required. */
function parseUrl(url: string, key: string, expected: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${key} is not a valid URL (expected ${expected})`);
  }
  if (!parsed.hostname) throw new ConfigError(`${key} names no host (expected ${expected})`);
  return parsed;
}

/** Percent-decodes one part of a URL; a broken escape (`%E0%A4%A`) names the key and the part. */
function decodePart(text: string, key: string, part: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigError(`${key}: the ${part} in the URL has an invalid %-escape`, {
      hint: 'percent-encode special characters, e.g. @ as %40 and % as %25',
    });
  }
}

// eslint-disable-next-line no-control-regex
const DATABASE_NAME = /^[^\u0000-\u001f/\\.]{1,64}$/;

/** MySQL database names: 1-64 characters, no `/`, `\`, `.` or control characters, no trailing space. */
function validateDatabaseName(database: string, key: string): void {
  if (!DATABASE_NAME.test(database) || database.endsWith(' ')) {
    throw new ConfigError(
      `${key}: database name ${JSON.stringify(database.length > 40 ? `${database.slice(0, 37)}...` : database)} is not valid: use 1-64 characters without / \\ . or control characters`,
    );
  }
}

/**
 * Checks a Redis URL up front (ioredis would fail later with "URI malformed" or silently use
 * database NaN): redis:// or rediss://, a host, decodable credentials, database 0-15 or none.
 */
export function validateRedisUrl(url: string, key: string): string {
  if (!/^rediss?:\/\//.test(url)) throw new ConfigError(`${key} must start with redis:// or rediss://`);
  const parsed = parseUrl(url, key, 'redis://[:password@]host:6379[/0]');
  if (parsed.username) decodePart(parsed.username, key, 'user name');
  if (parsed.password) decodePart(parsed.password, key, 'password');
  if (!/^\/?(\d{1,2})?$/.test(parsed.pathname) || Number(parsed.pathname.slice(1) || 0) > 15) {
    throw new ConfigError(
      `${key}: the Redis database must be a number from 0 to 15 (got ${parsed.pathname})`,
    );
  }
  return url;
}

/** A URL for display: the password is replaced, never shown. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}

/** The same server login with no default database: works whether or not the database exists. */
export function withoutDatabase(location: DatabaseLocation): DatabaseLocation {
  return location.driver === 'mysql'
    ? { ...location, connection: { ...location.connection, database: undefined } }
    : location;
}

export function describeLocation(location: DatabaseLocation): string {
  if (location.driver === 'sqlite') return `sqlite:${location.filename}`;
  const { host, port, user, database } = location.connection;
  return `mysql://${encodeURIComponent(user)}@${host}:${port}${database ? `/${database}` : ''}`;
}

/** Builds a connection URL (used for DATABASE_URL handed to tenant commands). */
export function connectionUrl(location: DatabaseLocation): string {
  if (location.driver === 'sqlite') return `sqlite://${location.filename}`;
  const { host, port, user, password, database } = location.connection;
  const auth = password
    ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
    : encodeURIComponent(user);
  return `mysql://${auth}@${host}:${port}${database ? `/${encodeURIComponent(database)}` : ''}`;
}

import { ConfigError } from '../../errors.js';
import type { NetworkConnection, NetworkLocation } from '../engine.js';

/** `new URL` with a one-line error naming the key; a host is required. */
export function parseUrl(url: string, key: string, expected: string): URL {
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
export function decodePart(text: string, key: string, part: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigError(`${key}: the ${part} in the URL has an invalid %-escape`, {
      hint: 'percent-encode special characters, e.g. @ as %40 and % as %25',
    });
  }
}

/** What differs between network engines in their URLs and connection objects. */
export interface NetworkDialect {
  driver: NetworkLocation['driver'];
  scheme: string;
  defaultPort: number;
  defaultUser: string;
  /** Longest database name the server accepts, in bytes. */
  maxNameBytes: number;
  example: string;
}

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f/\\.]/;

/** Database names: no `/`, `\`, `.` or control characters, no trailing space, within the server's length. */
export function validateDatabaseName(dialect: NetworkDialect, database: string, key: string): void {
  const bytes = Buffer.byteLength(database);
  if (bytes === 0 || bytes > dialect.maxNameBytes || FORBIDDEN.test(database) || database.endsWith(' ')) {
    throw new ConfigError(
      `${key}: database name ${JSON.stringify(database.length > 40 ? `${database.slice(0, 37)}...` : database)} is not valid: use 1-${dialect.maxNameBytes} bytes without / \\ . or control characters`,
    );
  }
}

export function parseNetworkUrl(dialect: NetworkDialect, url: string, key: string): NetworkLocation {
  const parsed = parseUrl(url, key, `${dialect.example} or sqlite:path`);
  const database = decodePart(parsed.pathname.replace(/^\//, ''), key, 'database name');
  if (database) validateDatabaseName(dialect, database, key);
  return {
    driver: dialect.driver,
    source: key,
    connection: {
      host: parsed.hostname,
      port: parsed.port ? Number(parsed.port) : dialect.defaultPort,
      user: parsed.username ? decodePart(parsed.username, key, 'user name') : dialect.defaultUser,
      password: parsed.password ? decodePart(parsed.password, key, 'password') : undefined,
      database: database || undefined,
    },
  };
}

/** A knex-style `connection`: a URL, or an object with host, port, user, password, database. */
export function parseNetworkConnection(dialect: NetworkDialect, spec: unknown, key: string): NetworkLocation {
  if (typeof spec === 'string') return parseNetworkUrl(dialect, spec, key);
  const connection = spec as Partial<NetworkConnection> | undefined;
  if (!connection || typeof connection !== 'object') {
    throw new ConfigError(`${key}.connection must be a URL or an object with host, port, user`);
  }
  if (connection.database !== undefined) validateDatabaseName(dialect, String(connection.database), key);
  return {
    driver: dialect.driver,
    source: key,
    connection: {
      host: connection.host ?? '127.0.0.1',
      port: Number(connection.port ?? dialect.defaultPort),
      user: connection.user ?? dialect.defaultUser,
      password: connection.password,
      database: connection.database,
    },
  };
}

export function describeNetwork(dialect: NetworkDialect, location: NetworkLocation): string {
  const { host, port, user, database } = location.connection;
  const schema = location.schema ? `?schema=${encodeURIComponent(location.schema)}` : '';
  return `${dialect.scheme}://${encodeURIComponent(user)}@${host}:${port}${database ? `/${database}` : ''}${schema}`;
}

export function networkConnectionUrl(dialect: NetworkDialect, location: NetworkLocation): string {
  const { host, port, user, password, database } = location.connection;
  const auth = password
    ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
    : encodeURIComponent(user);
  return `${dialect.scheme}://${auth}@${host}:${port}${database ? `/${encodeURIComponent(database)}` : ''}`;
}

export function networkWithoutDatabase<L extends NetworkLocation>(location: L): L {
  return { ...location, connection: { ...location.connection, database: undefined } };
}

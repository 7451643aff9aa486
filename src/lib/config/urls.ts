import { ConfigError } from '../errors.js';
import type { DatabaseLocation } from '../servers/engine.js';
import { allEngines, engineFor, engineForClient, engineForScheme } from '../servers/engines/index.js';
import { decodePart, parseUrl } from '../servers/engines/network-url.js';

export type { DatabaseLocation, NetworkConnection } from '../servers/engine.js';

export type ConnectionSpec = string | { client: string; connection: unknown };

const schemes = () =>
  allEngines()
    .flatMap((engine) => engine.schemes)
    .map((scheme) => `${scheme}:`);

/**
 * Turns a config value (URL or {client, connection}) into a location. SQLite paths are resolved
 * against `baseDir` (the config file's folder), never the process cwd.
 */
export function parseDatabaseSpec(spec: ConnectionSpec, baseDir: string, key: string): DatabaseLocation {
  if (typeof spec === 'string') return parseDatabaseUrl(spec, baseDir, key);
  const engine = engineForClient(spec.client);
  if (!engine) {
    const clients = allEngines().map((candidate) => candidate.clients[0]);
    throw new ConfigError(
      `${key}.client ${JSON.stringify(spec.client)} is not supported: use ${clients.join(', ')}`,
    );
  }
  return engine.parseConnection(spec.connection, baseDir, key);
}

export function parseDatabaseUrl(url: string, baseDir: string, key: string): DatabaseLocation {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const engine = scheme ? engineForScheme(scheme) : undefined;
  if (engine) return engine.parseUrl(url, baseDir, key);
  if (!scheme) {
    throw new ConfigError(
      `${key} is not a valid URL (expected mysql://user:password@host:3306/database, postgres://user@host:5432/database or sqlite:path)`,
    );
  }
  throw new ConfigError(`${key} uses unsupported scheme "${scheme}:" (expected ${schemes().join(', ')})`);
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
  return engineFor(location).withoutDatabase(location);
}

/** The location without its password, for messages. */
export function describeLocation(location: DatabaseLocation): string {
  return engineFor(location).describe(location);
}

/** Builds a connection URL (used for DATABASE_URL handed to tenant commands). */
export function connectionUrl(location: DatabaseLocation): string {
  return engineFor(location).connectionUrl(location);
}

/**
 * For a registry location that names a server but no database (a server registry needs one):
 * the hint, the same URL with a database added; undefined when there is nothing to say.
 */
export function registryDatabaseHint(location: DatabaseLocation): string | undefined {
  if (location.driver === 'sqlite' || location.connection.database) return undefined;
  const example = describeLocation({ ...location, connection: { ...location.connection, database: 'afty' } });
  return `add one to the URL, e.g. ${example}`;
}

import type { NetworkLocation } from '../../engine.js';
import {
  describeNetwork,
  networkConnectionUrl,
  parseNetworkConnection,
  parseNetworkUrl,
  type NetworkDialect,
} from '../network-url.js';

export const POSTGRES_URL: NetworkDialect = {
  driver: 'postgres',
  scheme: 'postgres',
  defaultPort: 5432,
  defaultUser: 'postgres',
  // NAMEDATALEN - 1: longer names are truncated by the server, so two tenants could collide.
  maxNameBytes: 63,
  example: 'postgres://user:password@host:5432/database',
};

export const parsePostgresUrl = (url: string, key: string) => parseNetworkUrl(POSTGRES_URL, url, key);
export const parsePostgresConnection = (spec: unknown, key: string) =>
  parseNetworkConnection(POSTGRES_URL, spec, key);
export const describePostgres = (location: NetworkLocation) => describeNetwork(POSTGRES_URL, location);
export const postgresConnectionUrl = (location: NetworkLocation) =>
  networkConnectionUrl(POSTGRES_URL, location);

/** The database an admin connection uses when the location names none. */
export const MAINTENANCE_DATABASE = 'postgres';

/** "x" for identifiers in statements that take no bind parameters (CREATE ROLE, ALTER DATABASE). */
export function quoteIdentifier(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifiers cannot contain NUL');
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string literal for utility statements (standard_conforming_strings is on since 9.1). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('strings cannot contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

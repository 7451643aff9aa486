import { InputError } from '../errors.js';
import { engineOf } from '../servers/engines/index.js';
import type { DatabaseServer } from '../servers/index.js';

/**
 * What moves, clones and the servers topic need beyond DatabaseServer: a fingerprint of a
 * database's data (to prove a copy identical) and a server's usage. Each engine provides them
 * (`Engine.mobility`, servers/engines/<kind>/mobility.ts); the fingerprint is null on an engine
 * afty does not move tenants on yet.
 */

export interface TableFingerprint {
  name: string;
  type: 'table' | 'view';
  /** Exact row count (0 for views). */
  rows: number;
  /** CHECKSUM TABLE on MySQL, a sha256 of the rows in key order on SQLite; null for views. */
  checksum: string | null;
}

export interface DatabaseFingerprint {
  tables: TableFingerprint[];
  /** Views, triggers, routines and indexes by kind and name, sorted. */
  objects: string[];
}

export interface ServerUsage {
  version: string;
  /** Bytes per database (data and indexes). */
  databases: Map<string, number>;
  /** Connections open now and the server's limit; null where the engine has none (SQLite). */
  connections: number | null;
  maxConnections: number | null;
}

export interface MoveOperations {
  /** undefined where the engine has none: moves, clones, exports and imports refuse its servers. */
  fingerprint?(database: string): Promise<DatabaseFingerprint>;
  /** Version, connections, and the sizes of `databases` (the tenants' databases there). */
  usage(databases: string[]): Promise<ServerUsage>;
}

/** The engine's move operations for a server. */
export function moveOperations(server: DatabaseServer): Required<MoveOperations> {
  const operations = engineOf(server.driver).mobility(server);
  return {
    fingerprint: operations.fingerprint ?? (() => Promise.reject(notMobile(server, 'comparing tenant data'))),
    usage: operations.usage,
  };
}

function notMobile(server: DatabaseServer, what: string): InputError {
  return new InputError(
    `${what} is not supported on ${engineOf(server.driver).label} servers yet (server "${server.name}")`,
    { hint: 'use afty backup create and afty backup restore --into for now' },
  );
}

/** Moves, clones, exports and imports need the engine's fingerprint (PostgreSQL has none yet). */
export function assertMobile(server: DatabaseServer, what: string): void {
  if (!engineOf(server.driver).mobility(server).fingerprint) throw notMobile(server, what);
}

/** Sizes one by one through DatabaseServer (any engine); the version from a ping. */
export async function usageThroughServer(server: DatabaseServer, databases: string[]): Promise<ServerUsage> {
  const { version } = await server.ping();
  const sizes = new Map<string, number>();
  for (const database of databases) sizes.set(database, (await server.databaseStats(database)).bytes);
  return { version, databases: sizes, connections: null, maxConnections: null };
}

/** Where two fingerprints differ, one phrase per difference; empty when identical. */
export function fingerprintDifferences(expected: DatabaseFingerprint, actual: DatabaseFingerprint): string[] {
  const differences: string[] = [];
  const found = new Map(actual.tables.map((table) => [table.name, table]));
  for (const table of expected.tables) {
    const copy = found.get(table.name);
    found.delete(table.name);
    if (!copy) differences.push(`${table.name} missing`);
    else if (copy.type !== table.type) differences.push(`${table.name} is a ${copy.type}`);
    else if (copy.rows !== table.rows)
      differences.push(`${table.name} has ${copy.rows} rows, not ${table.rows}`);
    else if (copy.checksum !== table.checksum) differences.push(`${table.name} checksum differs`);
  }
  for (const extra of found.keys()) differences.push(`${extra} not in the source`);
  const objects = new Set(actual.objects);
  for (const object of expected.objects) if (!objects.delete(object)) differences.push(`${object} missing`);
  for (const object of objects) differences.push(`${object} not in the source`);
  return differences;
}

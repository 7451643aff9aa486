import type { Cluster, Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { RedisClient } from '../cache/index.js';
import { randomBytes } from 'node:crypto';
import type { DatabaseLocation } from '../config/index.js';
import { describeLocation, withoutDatabase } from '../config/index.js';
import { classifyDriverError, isConnectionError } from '../errors.js';
import type { TenantRecord } from '../registry/index.js';
import type { DatabaseServer } from '../servers/index.js';
import { engineOf } from '../servers/engines/index.js';
import { withKnex } from '../servers/knex.js';

/**
 * Opens a one-connection knex on `location`, runs `work` and always destroys it. A server that is
 * unreachable or cannot serve (connection limit, shutting down) becomes a ServiceError (exit 3),
 * never a finding; other driver errors, refused logins included, reach the check unchanged.
 */
export async function withDatabase<T>(
  location: DatabaseLocation,
  work: (db: Knex) => Promise<T>,
): Promise<T> {
  try {
    return await withKnex(location, work, { connectTimeoutMs: 3000 });
  } catch (error) {
    if (isConnectionError(error)) throw classifyDriverError(error, { target: describeLocation(location) })!;
    throw error;
  }
}

/**
 * The server's admin login: with no default database, or, with a schema per tenant
 * (PostgreSQL), the shared database the tenant schemas live in.
 */
export function serverAdminLocation(server: DatabaseServer): DatabaseLocation {
  const location = server.tenantLocation('');
  if (location.driver !== 'sqlite' && location.schema !== undefined)
    return { ...location, schema: undefined };
  return withoutDatabase(location);
}

/** The servers holding keys: the masters of a Cluster, or the one Redis. */
export function redisNodes(client: RedisClient): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/** A name no real table or key has, for probes that must clean up after themselves. */
export function probeName(prefix = 'afty_probe_'): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

/** The driver error code, e.g. ER_TABLEACCESS_DENIED_ERROR. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles in ms, rounded to 0.1 ms. */
export function latencyStats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => {
    if (sorted.length === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return Math.round(sorted[rank - 1]! * 10) / 10;
  };
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) };
}

/**
 * The tenants `tenant` is probed against: the next `size` tenants after it in the fleet's id
 * order, wrapping around. Over the whole fleet every tenant is a target at least once and the
 * number of probes is fleet size × sample, so cost grows linearly.
 */
export function sampleTargets(fleet: TenantRecord[], tenant: TenantRecord, size: number): TenantRecord[] {
  const others = fleet.filter((candidate) => candidate.id !== tenant.id);
  if (others.length <= size) return others;
  const start = others.findIndex((candidate) => candidate.id > tenant.id);
  const offset = start < 0 ? 0 : start;
  return Array.from({ length: size }, (_, index) => others[(offset + index) % others.length]!);
}

/** `afty <command> --tenant <id>`: the remedy line for one tenant. */
export function forTenant(command: string, tenant: TenantRecord | string): string {
  return `afty ${command} --tenant ${typeof tenant === 'string' ? tenant : tenant.id}`;
}

/**
 * The client command (mariadb, psql) that runs `sql` as the server's admin, for remedies an
 * operator can paste (the password is asked for, never printed).
 */
export function adminSqlCommand(server: DatabaseServer, sql: string): string {
  return engineOf(server.driver).adminShellCommand(serverAdminLocation(server), sql);
}

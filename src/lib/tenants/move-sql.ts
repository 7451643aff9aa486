import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { describeTables } from '../backup/inspect.js';
import { withDatabase } from '../backup/driver.js';
import { InputError } from '../errors.js';
import type { DatabaseServer } from '../servers/index.js';

/**
 * The engine-specific operations moves, clones and the servers topic need beyond DatabaseServer:
 * a fingerprint of a database's data (to prove a copy identical) and a server's usage. One
 * implementation per driver, chosen by `moveOperations`; they belong on the engine seam.
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
  fingerprint(database: string): Promise<DatabaseFingerprint>;
  /** Version, connections, and the sizes of `databases` (the tenants' databases there). */
  usage(databases: string[]): Promise<ServerUsage>;
}

function notOnPostgres(server: DatabaseServer, what: string): InputError {
  return new InputError(`${what} is not supported on PostgreSQL servers yet (server "${server.name}")`, {
    hint: 'use afty backup create and afty backup restore --into for now',
  });
}

/** Moves, clones, exports and imports are not done on PostgreSQL servers yet (no fingerprint there). */
export function assertMobile(server: DatabaseServer, what: string): void {
  if (server.driver === 'postgres') throw notOnPostgres(server, what);
}

export function moveOperations(server: DatabaseServer): MoveOperations {
  switch (server.driver) {
    case 'mysql':
      return mysqlOperations(server);
    case 'sqlite':
      return sqliteOperations(server);
    case 'postgres':
      return postgresOperations(server);
  }
}

/** Sizes one by one through DatabaseServer (any engine); the version from a ping. */
async function genericUsage(server: DatabaseServer, databases: string[]): Promise<ServerUsage> {
  const { version } = await server.ping();
  const sizes = new Map<string, number>();
  for (const database of databases) sizes.set(database, (await server.databaseStats(database)).bytes);
  return { version, databases: sizes, connections: null, maxConnections: null };
}

function postgresOperations(server: DatabaseServer): MoveOperations {
  return {
    fingerprint: () => Promise.reject(notOnPostgres(server, 'comparing tenant data')),
    usage: (databases) => genericUsage(server, databases),
  };
}

function quoteMysql(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

function mysqlOperations(server: DatabaseServer): MoveOperations {
  return {
    // Counting and checksumming are two scans: run on two connections at once.
    fingerprint: async (database) => {
      const [described, checksums, objects] = await Promise.all([
        withDatabase(server, database, (db) => describeTables(db, 'mysql', true)),
        withDatabase(server, database, async (db) => {
          const [tables] = (await db.raw(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'",
          )) as [Array<{ name: string }>];
          const sums = new Map<string, string>();
          for (const { name } of tables) {
            const [rows] = (await db.raw(`CHECKSUM TABLE ${quoteMysql(name)} EXTENDED`)) as [
              Array<{ Checksum: string | number | null }>,
            ];
            sums.set(name, String(rows[0]?.Checksum ?? 'null'));
          }
          return sums;
        }),
        withDatabase(server, database, mysqlObjects),
      ]);
      const tables = described.map((table) => ({
        name: table.name,
        type: table.type,
        rows: table.rows,
        checksum: table.type === 'table' ? (checksums.get(table.name) ?? null) : null,
      }));
      return { tables, objects };
    },

    usage: () =>
      withDatabase(server, 'information_schema', async (db) => {
        const [sizes] = (await db.raw(
          'SELECT table_schema AS name, COALESCE(SUM(data_length + index_length), 0) AS bytes FROM information_schema.tables GROUP BY table_schema',
        )) as [Array<{ name: string; bytes: string | number }>];
        const [status] = (await db.raw("SHOW GLOBAL STATUS LIKE 'Threads_connected'")) as [
          Array<{ Value: string }>,
        ];
        const [limits] = (await db.raw('SELECT @@max_connections AS max, VERSION() AS version')) as [
          Array<{ max: string | number; version: string }>,
        ];
        return {
          version: limits[0]!.version,
          databases: new Map(sizes.map((row) => [row.name, Number(row.bytes)])),
          connections: Number(status[0]?.Value ?? 0),
          maxConnections: Number(limits[0]!.max),
        };
      }),
  };
}

async function mysqlObjects(db: Knex): Promise<string[]> {
  const [rows] = (await db.raw(
    `SELECT CONCAT('view:', table_name) AS o FROM information_schema.views WHERE table_schema = DATABASE()
     UNION ALL SELECT CONCAT('trigger:', trigger_name) FROM information_schema.triggers WHERE trigger_schema = DATABASE()
     UNION ALL SELECT CONCAT(LOWER(routine_type), ':', routine_name) FROM information_schema.routines WHERE routine_schema = DATABASE()
     UNION ALL SELECT DISTINCT CONCAT('index:', table_name, '.', index_name) FROM information_schema.statistics WHERE table_schema = DATABASE()
     ORDER BY 1`,
  )) as [Array<{ o: string }>];
  return rows.map((row) => row.o);
}

/** A value as text that tells types apart (1 vs '1', a blob vs its text). */
function sqliteValue(value: unknown): string {
  if (value === null) return 'n';
  if (Buffer.isBuffer(value)) return `b${value.toString('hex')}`;
  return `${typeof value === 'bigint' ? 'i' : typeof value === 'number' ? 'r' : 't'}${String(value)}`;
}

function sqliteOperations(server: DatabaseServer): MoveOperations {
  const fileOf = (database: string) => {
    const location = server.tenantLocation(database);
    if (location.driver !== 'sqlite') throw new Error(`server "${server.name}" is not SQLite`);
    return location.filename;
  };
  return {
    async fingerprint(database) {
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(fileOf(database), { readonly: true, fileMustExist: true });
      try {
        const listed = db
          .prepare(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
          )
          .all() as Array<{ name: string; type: 'table' | 'view' }>;
        const tables: TableFingerprint[] = [];
        for (const { name, type } of listed) {
          if (type === 'view') {
            tables.push({ name, type, rows: 0, checksum: null });
            continue;
          }
          const quoted = `"${name.replace(/"/g, '""')}"`;
          const columns = (db.prepare(`SELECT * FROM ${quoted} LIMIT 0`).columns() ?? []).length;
          const withoutRowid = /\bWITHOUT\s+ROWID\b/i.test(
            (db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').get(name) as { sql: string }).sql,
          );
          // Rows in a stable order: by rowid, or by every column where there is none.
          const order = withoutRowid
            ? Array.from({ length: Math.max(columns, 1) }, (_, index) => index + 1).join(', ')
            : 'rowid';
          const hash = createHash('sha256');
          let rows = 0;
          const statement = db
            .prepare(`SELECT * FROM ${quoted} ORDER BY ${order}`)
            .raw(true)
            .safeIntegers(true);
          for (const row of statement.iterate() as Iterable<unknown[]>) {
            hash.update(row.map(sqliteValue).join('\u0000'));
            hash.update('\u0001');
            rows += 1;
          }
          tables.push({ name, type, rows, checksum: hash.digest('hex') });
        }
        const objects = (
          db
            .prepare(
              "SELECT type || ':' || name AS o FROM sqlite_master WHERE type IN ('index', 'trigger', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1",
            )
            .all() as Array<{ o: string }>
        ).map((row) => row.o);
        return { tables, objects };
      } finally {
        db.close();
      }
    },

    usage: (databases) => genericUsage(server, databases),
  };
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

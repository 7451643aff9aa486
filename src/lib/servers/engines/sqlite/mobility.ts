import { createHash } from 'node:crypto';
import { usageThroughServer, type MoveOperations, type TableFingerprint } from '../../../tenants/move-sql.js';
import type { DatabaseServer } from '../../types.js';
import { sqliteSnapshot } from './snapshot.js';

/** A value as text that tells types apart (1 vs '1', a blob vs its text). */
function sqliteValue(value: unknown): string {
  if (value === null) return 'n';
  if (Buffer.isBuffer(value)) return `b${value.toString('hex')}`;
  return `${typeof value === 'bigint' ? 'i' : typeof value === 'number' ? 'r' : 't'}${String(value)}`;
}

export function sqliteMobility(server: DatabaseServer): MoveOperations {
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
          const quoted = sqliteSnapshot.quote(name);
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

    usage: (databases) => usageThroughServer(server, databases),
  };
}

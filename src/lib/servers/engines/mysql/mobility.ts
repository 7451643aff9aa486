import type { Knex } from 'knex';
import { withDatabase } from '../../../backup/driver.js';
import { describeTables } from '../../../backup/inspect.js';
import type { MoveOperations } from '../../../tenants/move-sql.js';
import type { DatabaseServer } from '../../types.js';

function quoteMysql(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function mysqlMobility(server: DatabaseServer): MoveOperations {
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

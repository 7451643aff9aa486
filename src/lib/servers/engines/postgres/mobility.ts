import type { Knex } from 'knex';
import type { MoveOperations } from '../../../tenants/move-sql.js';
import { withKnex } from '../../knex.js';
import type { DatabaseServer } from '../../types.js';
import { type PostgresServer } from './server.js';

/**
 * PostgreSQL: the server's usage (sizes, sessions against max_connections). No fingerprint yet,
 * so tenants are not moved, cloned, exported or imported on PostgreSQL servers.
 */
export function postgresMobility(server: DatabaseServer): MoveOperations {
  const admin = server as PostgresServer;
  return {
    usage: (databases) =>
      withKnex(admin.adminLocation(), async (db: Knex) => {
        const select = async <T>(sql: string, bindings: Knex.RawBinding[] = []) =>
          ((await db.raw(sql, bindings)) as { rows: T[] }).rows;
        const [settings] = await select<{ version: string; max: string; connected: string }>(
          "SELECT current_setting('server_version') AS version, current_setting('max_connections') AS max, (SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS connected",
        );
        const sizes =
          admin.isolation === 'schema'
            ? await select<{ name: string; bytes: string }>(
                `SELECT n.nspname AS name, COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS bytes
                 FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm', 'p')
                 WHERE n.nspname = ANY(?) GROUP BY n.nspname`,
                [databases],
              )
            : await select<{ name: string; bytes: string }>(
                'SELECT datname AS name, pg_database_size(datname) AS bytes FROM pg_database WHERE datname = ANY(?)',
                [databases],
              );
        return {
          version: `PostgreSQL ${settings!.version}`,
          databases: new Map(sizes.map((row) => [row.name, Number(row.bytes)])),
          connections: Number(settings!.connected),
          maxConnections: Number(settings!.max),
        };
      }),
  };
}

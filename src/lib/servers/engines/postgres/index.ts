import { LoginRefusedError, driverMessage } from '../../../errors.js';
import { shellWord } from '../../../validation/index.js';
import { postgresProbes } from './probes.js';
import { postgresMobility } from './mobility.js';
import { trackedPool } from '../pool.js';
import type { Engine, RawSocket } from '../../engine.js';
import { withKnex } from '../../knex.js';
import { networkWithoutDatabase } from '../network-url.js';
import { postgresBackupDriver } from './backup.js';
import { POSTGRES_TOOLS } from './client-tools.js';
import { postgresIntrospection } from './introspection.js';
import { PostgresServer } from './server.js';
import { postgresSnapshot } from './snapshot.js';
import {
  MAINTENANCE_DATABASE,
  describePostgres,
  parsePostgresConnection,
  parsePostgresUrl,
  postgresConnectionUrl,
  quoteIdentifier,
} from './url.js';

/** A pg Client as afty closes it: its socket. */
interface RawPgClient {
  connection?: { stream?: RawSocket };
}

/** PostgreSQL through node-postgres (pg). */
export const postgresEngine: Engine<'postgres'> = {
  kind: 'postgres',
  label: 'PostgreSQL',
  schemes: ['postgres', 'postgresql'],
  clients: ['pg', 'postgres', 'postgresql'],
  parseUrl: (url, _baseDir, key) => ({ ...parsePostgresUrl(url, key), driver: 'postgres' }),
  parseConnection: (connection, _baseDir, key) => ({
    ...parsePostgresConnection(connection, key),
    driver: 'postgres',
  }),
  describe: describePostgres,
  connectionUrl: postgresConnectionUrl,
  withoutDatabase: networkWithoutDatabase,

  async createRegistryDatabase(location) {
    const database = location.connection.database!;
    await withKnex(networkWithoutDatabase(location), async (db) => {
      const exists = (await db.raw('SELECT 1 FROM pg_database WHERE datname = ?', [database])) as {
        rows: unknown[];
      };
      if (exists.rows.length) return;
      try {
        await db.raw(`CREATE DATABASE ${quoteIdentifier(database)} TEMPLATE template0 ENCODING 'UTF8'`);
      } catch (error) {
        // 42501 insufficient_privilege: an account without CREATEDB.
        if ((error as { code?: string }).code !== '42501') throw error;
        throw new LoginRefusedError(
          `${location.connection.user} may not create the central database ${database} at ${describePostgres(location)}: ${driverMessage(error)}`,
          {
            hint: `have an administrator run CREATE DATABASE "${database}" OWNER "${location.connection.user}", then run afty init again`,
            cause: error,
          },
        );
      }
    });
  },

  runEnvironment: (location, database) => ({
    DB_CONNECTION: 'pgsql',
    DB_HOST: location.connection.host,
    DB_PORT: String(location.connection.port),
    DB_DATABASE: location.connection.database ?? database,
    DB_USERNAME: location.connection.user,
    DB_PASSWORD: location.connection.password ?? '',
    DB_URL: postgresConnectionUrl(location),
    // Laravel's pgsql connection takes the schema from search_path.
    ...(location.schema ? { DB_SEARCH_PATH: location.schema, DB_SCHEMA: location.schema } : {}),
  }),

  knexConfig: (location, options) => ({
    client: 'pg',
    connection: {
      host: location.connection.host,
      port: location.connection.port,
      user: location.connection.user,
      password: location.connection.password,
      database: location.connection.database ?? MAINTENANCE_DATABASE,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: 'afty',
    },
    ...(location.schema ? { searchPath: [location.schema] } : {}),
    pool: trackedPool(options),
    acquireConnectionTimeout: options.connectTimeoutMs + 1000,
  }),

  openServer: (server, config) =>
    new PostgresServer(
      server.name,
      server.location.connection,
      config.tenancy.mode,
      server.location.source ?? `servers.${server.name}`,
    ),
  introspection: postgresIntrospection,
  snapshot: postgresSnapshot,
  backup: (server) => postgresBackupDriver(server as PostgresServer),
  backupTools: POSTGRES_TOOLS,
  cacheColumnTypes: { key: 'bytea', value: 'bytea', tag: 'bytea' },
  archiveExtension: '.pgdump',
  adminShellCommand: (location, sql) => {
    const { host, port, user, password, database } = location.connection;
    return `psql -h ${shellWord(host)} -p ${port} -U ${shellWord(user)}${password ? ' -W' : ''} -d ${shellWord(database ?? MAINTENANCE_DATABASE)} -c ${shellWord(sql)}`;
  },
  transactionalDdl: true,
  // Session advisory locks keyed by a hash of the name; polled, so the wait is bounded.
  namedLock: {
    async acquire(db, connection, name, waitSeconds) {
      const deadline = Date.now() + waitSeconds * 1000;
      for (;;) {
        const { rows } = (await db
          .raw('SELECT pg_try_advisory_lock(hashtext(?)) AS got', [name])
          .connection(connection)) as { rows: Array<{ got: boolean }> };
        if (rows[0]?.got) return true;
        if (Date.now() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async release(db, connection, name) {
      await db.raw('SELECT pg_advisory_unlock(hashtext(?))', [name]).connection(connection);
    },
  },
  mobility: postgresMobility,
  checkProbes: postgresProbes,
  liveness: {
    async probe(location, timeoutMs) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({
        ...location.connection,
        database: location.connection.database ?? MAINTENANCE_DATABASE,
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
      });
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    socketOf: (raw) => (raw as RawPgClient).connection?.stream,
  },
};

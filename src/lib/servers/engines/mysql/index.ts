import { LoginRefusedError, driverMessage } from '../../../errors.js';
import { shellWord } from '../../../validation/index.js';
import { mysqlProbes } from './probes.js';
import { mysqlMobility } from './mobility.js';
import { trackedPool } from '../pool.js';
import type { Engine } from '../../engine.js';
import { withKnex } from '../../knex.js';
import { networkWithoutDatabase } from '../network-url.js';
import { CLIENT_PACKAGE_HINT, MYSQL_TOOLS, mysqlBackupDriver } from './backup.js';
import { mysqlIntrospection } from './introspection.js';
import { MysqlServer } from './server.js';
import { mysqlSnapshot } from './snapshot.js';
import { describeMysql, mysqlConnectionUrl, parseMysqlConnection, parseMysqlUrl } from './url.js';

/** A mysql2 connection as afty closes it: its socket. */
interface RawMysqlConnection {
  stream?: { destroy(error?: Error): void; once(event: 'close', listener: () => void): void };
}

/** MySQL and MariaDB through mysql2. */
export const mysqlEngine: Engine<'mysql'> = {
  kind: 'mysql',
  label: 'MySQL/MariaDB',
  schemes: ['mysql', 'mysql2', 'mariadb'],
  clients: ['mysql2', 'mysql', 'mariadb'],
  parseUrl: (url, _baseDir, key) => ({ ...parseMysqlUrl(url, key), driver: 'mysql' }),
  parseConnection: (connection, _baseDir, key) => ({
    ...parseMysqlConnection(connection, key),
    driver: 'mysql',
  }),
  describe: describeMysql,
  connectionUrl: mysqlConnectionUrl,
  withoutDatabase: networkWithoutDatabase,

  async createRegistryDatabase(location) {
    const database = location.connection.database!;
    await withKnex(networkWithoutDatabase(location), async (db) => {
      try {
        await db.raw('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [
          database,
        ]);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ER_DBACCESS_DENIED_ERROR') throw error;
        const [rows] = (await db.raw('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [
          database,
        ])) as [unknown[]];
        if (rows.length > 0) return;
        throw new LoginRefusedError(
          `${location.connection.user} may not create the central database ${database} at ${describeMysql(location)}: ${driverMessage(error)}`,
          {
            hint: `have an administrator run CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; GRANT ALL ON \`${database}\`.* TO the account, then run afty init again`,
            cause: error,
          },
        );
      }
    });
  },

  runEnvironment: (location, database) => ({
    DB_CONNECTION: 'mysql',
    DB_HOST: location.connection.host,
    DB_PORT: String(location.connection.port),
    DB_DATABASE: database,
    DB_USERNAME: location.connection.user,
    DB_PASSWORD: location.connection.password ?? '',
    DB_URL: mysqlConnectionUrl(location),
  }),

  knexConfig: (location, options) => ({
    client: 'mysql2',
    connection: {
      ...location.connection,
      // No charset, as plain knex: knex would compile every createTable with `default character
      // set X`, giving tables X's default collation instead of the database's (afty creates
      // databases utf8mb4_unicode_ci). mysql2's own default handshake is utf8mb4_unicode_ci.
      connectTimeout: options.connectTimeoutMs,
      multipleStatements: options.multipleStatements,
      supportBigNumbers: true,
      dateStrings: true,
    },
    pool: trackedPool(options),
    acquireConnectionTimeout: options.connectTimeoutMs + 1000,
  }),

  openServer: (server, config) =>
    new MysqlServer(
      server.name,
      server.location.connection,
      config.tenancy.userHost,
      server.location.source ?? `servers.${server.name}`,
    ),
  introspection: mysqlIntrospection,
  snapshot: mysqlSnapshot,
  backup: (server) => mysqlBackupDriver(server as MysqlServer),
  backupTools: { ...MYSQL_TOOLS, installHint: CLIENT_PACKAGE_HINT },
  cacheColumnTypes: { key: 'varbinary(1000)', value: 'longblob', tag: 'varbinary(200)' },
  archiveExtension: '.sql',
  adminShellCommand: (location, sql) => {
    const { host, port, user, password } = location.connection;
    return `mariadb -h ${shellWord(host)} -P ${port} -u ${shellWord(user)}${password ? ' -p' : ''} -e ${shellWord(sql)}`;
  },
  transactionalDdl: false,
  namedLock: {
    async acquire(db, connection, name, waitSeconds) {
      const [rows] = (await db
        .raw('SELECT GET_LOCK(?, ?) AS got', [name.slice(0, 64), waitSeconds])
        .connection(connection)) as [Array<{ got: number | null }>];
      return rows[0]?.got === 1;
    },
    async release(db, connection, name) {
      await db.raw('SELECT RELEASE_LOCK(?)', [name.slice(0, 64)]).connection(connection);
    },
  },
  mobility: mysqlMobility,
  checkProbes: mysqlProbes,
  liveness: {
    async probe(location, timeoutMs) {
      const { createConnection } = await import('mysql2/promise');
      const probe = await createConnection({ ...location.connection, connectTimeout: timeoutMs });
      try {
        await probe.query({ sql: 'SELECT 1', timeout: timeoutMs });
      } finally {
        probe.destroy();
      }
    },
    socketOf: (raw) => (raw as RawMysqlConnection).stream,
  },
};

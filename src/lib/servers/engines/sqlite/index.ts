import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { ConfigError } from '../../../errors.js';
import { shellWord } from '../../../validation/index.js';
import { sqliteMobility } from './mobility.js';
import type { Engine, SqliteLocation } from '../../engine.js';
import { sqliteBackupDriver } from './backup.js';
import { sqliteIntrospection } from './introspection.js';
import { SqliteServer } from './server.js';
import { sqliteSnapshot } from './snapshot.js';

function parseSqliteUrl(url: string, baseDir: string, key: string): SqliteLocation {
  const rest = url.slice(url.indexOf(':') + 1).replace(/^\/\/(?=\/)/, '');
  if (rest === '' || rest === '//')
    throw new ConfigError(`${key}: sqlite URL needs a path, e.g. sqlite:.afty/central.sqlite`);
  return { driver: 'sqlite', filename: path.resolve(baseDir, rest) };
}

/** SQLite through better-sqlite3: the embedded default, a file per tenant database. */
export const sqliteEngine: Engine<'sqlite'> = {
  kind: 'sqlite',
  label: 'SQLite',
  schemes: ['sqlite'],
  clients: ['better-sqlite3', 'sqlite3', 'sqlite'],
  parseUrl: parseSqliteUrl,
  parseConnection(connection, baseDir, key) {
    const filename =
      typeof connection === 'string'
        ? connection
        : (connection as { filename?: unknown } | undefined)?.filename;
    if (typeof filename !== 'string' || filename === '') {
      throw new ConfigError(`${key}.connection.filename must name a SQLite file`);
    }
    return { driver: 'sqlite', filename: path.resolve(baseDir, filename) };
  },
  describe: (location) => `sqlite:${location.filename}`,
  connectionUrl: (location) => `sqlite://${location.filename}`,
  withoutDatabase: (location) => location,
  // The file appears when the registry first opens it.
  async createRegistryDatabase() {},
  // Laravel reads an SQLite database from DB_DATABASE (a file path); its URL form differs.
  runEnvironment: (location) => ({ DB_CONNECTION: 'sqlite', DB_DATABASE: location.filename }),

  knexConfig(location, options) {
    mkdirSync(path.dirname(location.filename), { recursive: true });
    return {
      client: 'better-sqlite3',
      connection: { filename: location.filename },
      useNullAsDefault: true,
      pool: {
        min: 0,
        max: 1,
        afterCreate(
          connection: { pragma(sql: string): unknown },
          done: (error: Error | null, connection: unknown) => void,
        ) {
          // WAL lets readers (list/show) work while a writer holds the database; foreign keys as in MySQL.
          connection.pragma('journal_mode = WAL');
          connection.pragma('foreign_keys = ON');
          connection.pragma('busy_timeout = 5000');
          options.afterCreate(connection);
          done(null, connection);
        },
      },
    };
  },

  openServer: (server) => new SqliteServer(server.name, server.location.filename),
  introspection: sqliteIntrospection,
  snapshot: sqliteSnapshot,
  backup: (server) => sqliteBackupDriver(server as SqliteServer),
  backupTools: null,
  cacheColumnTypes: { key: 'blob', value: 'blob', tag: 'blob' },
  archiveExtension: '.sqlite',
  adminShellCommand: (location, sql) => `sqlite3 ${shellWord(location.filename)} ${shellWord(sql)}`,
  transactionalDdl: true,
  namedLock: null,
  mobility: sqliteMobility,
  checkProbes: null,
  liveness: null,
};

import type { Knex } from 'knex';
import type { NetworkConnection, NetworkLocation } from '../../engine.js';
import { createKnex } from '../../knex.js';
import { runAdminQuery } from '../../admin-query.js';
import { likePrefix } from '../sql.js';
import type { DatabaseCredentials, DatabaseServer, DatabaseStats } from '../../types.js';
import { describeMysql } from './url.js';

/** In GRANT ... ON `db`.*, `_` and `%` are wildcards: escape them so a grant covers one database only. */
export function grantDatabasePattern(database: string): string {
  return database.replace(/[_%]/g, (char) => `\\${char}`);
}

export class MysqlServer implements DatabaseServer {
  readonly driver = 'mysql' as const;
  readonly supportsUsers = true;
  readonly description: string;
  private admin?: Promise<Knex>;

  constructor(
    readonly name: string,
    private readonly connection: NetworkConnection,
    private readonly userHost: string,
    /** Where the admin user and password came from (config key or variable), for login errors. */
    private readonly source: string,
  ) {
    this.description = describeMysql({ driver: 'mysql', connection: { ...connection, database: undefined } });
  }

  private knex(): Promise<Knex> {
    this.admin ??= createKnex(
      { driver: 'mysql', connection: { ...this.connection, database: undefined } },
      { poolMax: 4, shared: true },
    );
    return this.admin;
  }

  private query<T>(what: string, run: (db: Knex) => Promise<T>): Promise<T> {
    return runAdminQuery(this, this.source, this.knex(), what, run);
  }

  async ping(): Promise<{ version: string; latencyMs: number }> {
    const started = performance.now();
    const version = await this.query('ping', async (db) => {
      const [rows] = (await db.raw('SELECT VERSION() AS version')) as [Array<{ version: string }>];
      return rows[0]!.version;
    });
    return { version, latencyMs: performance.now() - started };
  }

  async createDatabase(database: string): Promise<void> {
    await this.query(`creating database ${database}`, (db) =>
      db.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [database]),
    );
  }

  async dropDatabase(database: string): Promise<void> {
    await this.query(`dropping database ${database}`, (db) =>
      db.raw('DROP DATABASE IF EXISTS ??', [database]),
    );
  }

  async databaseExists(database: string): Promise<boolean> {
    return this.query('looking up database', async (db) => {
      const [rows] = (await db.raw('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [
        database,
      ])) as [unknown[]];
      return rows.length > 0;
    });
  }

  async listDatabases(prefix: string): Promise<string[]> {
    return this.query('listing databases', async (db) => {
      const [rows] = (await db.raw(
        "SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ? ESCAPE '\\\\' ORDER BY schema_name",
        [likePrefix(prefix)],
      )) as [Array<{ name: string }>];
      return rows.map((row) => row.name);
    });
  }

  async databaseStats(database: string): Promise<DatabaseStats> {
    return this.query('reading database size', async (db) => {
      const [rows] = (await db.raw(
        'SELECT COALESCE(SUM(data_length + index_length), 0) AS bytes, COUNT(*) AS tables FROM information_schema.tables WHERE table_schema = ?',
        [database],
      )) as [Array<{ bytes: string | number; tables: string | number }>];
      return { bytes: Number(rows[0]!.bytes), tables: Number(rows[0]!.tables) };
    });
  }

  /** Creates the user, or sets its password if it exists (a retried tenant create), and grants its database. */
  async createUser(user: string, password: string, database: string): Promise<void> {
    await this.query(`creating user ${user}`, async (db) => {
      await db.raw('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [user, this.userHost, password]);
      await db.raw('ALTER USER ?@? IDENTIFIED BY ?', [user, this.userHost, password]);
      await db.raw('GRANT ALL PRIVILEGES ON ??.* TO ?@?', [
        grantDatabasePattern(database),
        user,
        this.userHost,
      ]);
    });
  }

  async dropUser(user: string): Promise<void> {
    await this.query(`dropping user ${user}`, (db) =>
      db.raw('DROP USER IF EXISTS ?@?', [user, this.userHost]),
    );
  }

  async userExists(user: string): Promise<boolean> {
    return this.query('looking up user', async (db) => {
      const [rows] = (await db.raw('SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?', [
        user,
        this.userHost,
      ])) as [unknown[]];
      return rows.length > 0;
    });
  }

  tenantLocation(database: string, credentials?: DatabaseCredentials): NetworkLocation & { source: string } {
    return {
      driver: 'mysql',
      source: credentials ? "the registry (the tenant's own user, stored encrypted)" : this.source,
      connection: {
        host: this.connection.host,
        port: this.connection.port,
        user: credentials?.user ?? this.connection.user,
        password: credentials ? credentials.password : this.connection.password,
        database,
      },
    };
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await (await admin).destroy();
  }
}

import type { Knex } from 'knex';
import type { NetworkConnection, NetworkLocation } from '../../engine.js';
import { createKnex, withKnex } from '../../knex.js';
import { runAdminQuery } from '../../admin-query.js';
import { likePrefix } from '../sql.js';
import type { DatabaseCredentials, DatabaseServer, DatabaseStats } from '../../types.js';
import { MAINTENANCE_DATABASE, describePostgres, quoteIdentifier, quoteLiteral } from './url.js';

/** How tenants are kept apart on a PostgreSQL server. */
export type PostgresIsolation = 'database' | 'schema';

/**
 * A PostgreSQL server. With `database` isolation a tenant is a database (CONNECT revoked from
 * PUBLIC, owned by the tenant's role); with `schema` isolation a tenant is a schema in the one
 * database the server URL names, owned by the tenant's role, whose search_path is that schema.
 * Everything this class calls a "database" is then a schema.
 */
export class PostgresServer implements DatabaseServer {
  readonly driver = 'postgres' as const;
  readonly supportsUsers = true;
  readonly description: string;
  private admin?: Promise<Knex>;

  constructor(
    readonly name: string,
    private readonly connection: NetworkConnection,
    readonly isolation: PostgresIsolation,
    /** Where the admin user and password came from (config key or variable), for login errors. */
    private readonly source: string,
  ) {
    this.description = describePostgres({ driver: 'postgres', connection });
  }

  /** The database the admin connects to: the shared one (schema isolation) or the maintenance database. */
  private get adminDatabase(): string {
    return this.connection.database ?? MAINTENANCE_DATABASE;
  }

  /** The admin login on the database it works in (the shared one, or the maintenance database). */
  adminLocation(): NetworkLocation {
    return {
      driver: 'postgres',
      source: this.source,
      connection: { ...this.connection, database: this.adminDatabase },
    };
  }

  private knex(): Promise<Knex> {
    this.admin ??= createKnex(this.adminLocation(), { poolMax: 4, shared: true });
    return this.admin;
  }

  private query<T>(what: string, run: (db: Knex) => Promise<T>): Promise<T> {
    return runAdminQuery(this, this.source, this.knex(), what, run);
  }

  private async rows<T>(what: string, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
    return this.query(
      what,
      async (db) => ((await db.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] }).rows,
    );
  }

  async ping(): Promise<{ version: string; latencyMs: number }> {
    const started = performance.now();
    const [row] = await this.rows<{ server_version: string }>('ping', 'SHOW server_version');
    return { version: `PostgreSQL ${row!.server_version}`, latencyMs: performance.now() - started };
  }

  async createDatabase(database: string): Promise<void> {
    const name = quoteIdentifier(database);
    if (this.isolation === 'schema') {
      await this.query(`creating schema ${database}`, (db) => db.raw(`CREATE SCHEMA ${name}`));
      return;
    }
    // template0 with UTF8: every tenant starts from the same empty database, whatever template1 holds.
    await this.query(`creating database ${database}`, async (db) => {
      await db.raw(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
      // PUBLIC may connect to (and create temp tables in) a new database by default: no tenant
      // role may even connect to another tenant's database.
      await db.raw(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
    });
  }

  async dropDatabase(database: string): Promise<void> {
    const name = quoteIdentifier(database);
    if (this.isolation === 'schema') {
      await this.query(`dropping schema ${database}`, (db) =>
        db.raw(`DROP SCHEMA IF EXISTS ${name} CASCADE`),
      );
      return;
    }
    // FORCE ends the sessions still connected (an application's pool), as MySQL's DROP DATABASE does not wait for them.
    await this.query(`dropping database ${database}`, (db) =>
      db.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    );
  }

  async databaseExists(database: string): Promise<boolean> {
    const sql =
      this.isolation === 'schema'
        ? 'SELECT 1 FROM pg_namespace WHERE nspname = ?'
        : 'SELECT 1 FROM pg_database WHERE datname = ?';
    return (await this.rows('looking up database', sql, [database])).length > 0;
  }

  async listDatabases(prefix: string): Promise<string[]> {
    const sql =
      this.isolation === 'schema'
        ? "SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE ? ESCAPE '\\' ORDER BY nspname"
        : "SELECT datname AS name FROM pg_database WHERE datname LIKE ? ESCAPE '\\' ORDER BY datname";
    const rows = await this.rows<{ name: string }>('listing databases', sql, [likePrefix(prefix)]);
    return rows.map((row) => row.name);
  }

  async databaseStats(database: string): Promise<DatabaseStats> {
    if (this.isolation === 'schema') {
      const [row] = await this.rows<{ bytes: string | null; tables: string }>(
        'reading schema size',
        `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind IN ('r', 'm', 'p')), 0) AS bytes,
                COUNT(*) FILTER (WHERE c.relkind IN ('r', 'p')) AS tables
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ?`,
        [database],
      );
      return { bytes: Number(row!.bytes ?? 0), tables: Number(row!.tables) };
    }
    const [size] = await this.rows<{ bytes: string }>(
      'reading database size',
      'SELECT pg_database_size(?) AS bytes',
      [database],
    );
    const tables = await withKnex(this.tenantLocation(database), async (db) => {
      const result = (await db.raw(
        "SELECT COUNT(*) AS tables FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'",
      )) as { rows: Array<{ tables: string }> };
      return Number(result.rows[0]!.tables);
    });
    return { bytes: Number(size!.bytes), tables };
  }

  /**
   * Creates the role, or sets its password if it exists (a retried tenant create), and gives it
   * its database (owner) or schema (owner, search_path) and nothing else.
   */
  async createUser(user: string, password: string, database: string): Promise<void> {
    const role = quoteIdentifier(user);
    const target = quoteIdentifier(database);
    await this.query(`creating user ${user}`, async (db) => {
      const existing = (await db.raw('SELECT 1 FROM pg_roles WHERE rolname = ?', [user])) as {
        rows: unknown[];
      };
      const verb = existing.rows.length ? 'ALTER' : 'CREATE';
      // Utility statements take no bind parameters: the password is a quoted literal.
      await db.raw(
        `${verb} ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${quoteLiteral(password)}`,
      );
      // A non-superuser admin (CREATEROLE) must be a member of the role to hand it the database
      // or schema; PostgreSQL 16 makes the creator one, 15 does not.
      const admin = (await db.raw('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')) as {
        rows: Array<{ rolsuper: boolean }>;
      };
      if (!admin.rows[0]?.rolsuper) await db.raw(`GRANT ${role} TO CURRENT_USER`);
      if (this.isolation === 'schema') {
        // Every tenant's grant rewrites the shared database's one ACL: two at once fail with
        // "tuple concurrently updated", so they take turns (a lock that ends with the transaction).
        await db.transaction(async (trx) => {
          await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`afty:acl:${this.adminDatabase}`]);
          await trx.raw(`REVOKE ALL ON DATABASE ${quoteIdentifier(this.adminDatabase)} FROM PUBLIC`);
          await trx.raw(`GRANT CONNECT ON DATABASE ${quoteIdentifier(this.adminDatabase)} TO ${role}`);
        });
        await db.raw(`ALTER SCHEMA ${target} OWNER TO ${role}`);
        await db.raw(`ALTER ROLE ${role} SET search_path = ${target}`);
      } else {
        await db.raw(`ALTER DATABASE ${target} OWNER TO ${role}`);
      }
    });
  }

  /**
   * Drops the role. PostgreSQL refuses while the role owns anything or holds a grant, in any
   * database: what it owns goes to the admin (never dropped: dropping a user must not drop
   * data), its grants are revoked, database by database, then the role goes.
   */
  async dropUser(user: string): Promise<void> {
    await this.query(`dropping user ${user}`, async (db) => {
      const exists = (await db.raw('SELECT 1 FROM pg_roles WHERE rolname = ?', [user])) as {
        rows: unknown[];
      };
      if (!exists.rows.length) return;
      const owned = (await db.raw(
        'SELECT datname AS name FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = ?) AND datname <> ?',
        [user, this.adminDatabase],
      )) as { rows: Array<{ name: string }> };
      const release = `REASSIGN OWNED BY ${quoteIdentifier(user)} TO CURRENT_USER; DROP OWNED BY ${quoteIdentifier(user)}`;
      for (const { name } of owned.rows) {
        await withKnex({ driver: 'postgres', connection: { ...this.connection, database: name } }, (other) =>
          other.raw(release),
        );
      }
      // Taking the role's grant off the shared database's ACL takes turns with other tenants' (createUser).
      await db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`afty:acl:${this.adminDatabase}`]);
        await trx.raw(release);
      });
      await db.raw(`DROP ROLE IF EXISTS ${quoteIdentifier(user)}`);
    });
  }

  async userExists(user: string): Promise<boolean> {
    return (
      (await this.rows('looking up user', 'SELECT 1 FROM pg_roles WHERE rolname = ?', [user])).length > 0
    );
  }

  tenantLocation(database: string, credentials?: DatabaseCredentials): NetworkLocation & { source: string } {
    return {
      driver: 'postgres',
      source: credentials ? "the registry (the tenant's own user, stored encrypted)" : this.source,
      connection: {
        host: this.connection.host,
        port: this.connection.port,
        user: credentials?.user ?? this.connection.user,
        password: credentials ? credentials.password : this.connection.password,
        database: this.isolation === 'schema' ? this.adminDatabase : database,
      },
      ...(this.isolation === 'schema' ? { schema: database } : {}),
    };
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await (await admin).destroy();
  }
}

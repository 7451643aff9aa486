import type { Knex } from 'knex';
import type { AftyConfig, ServerConfig } from '../config/index.js';
import type { BackupDriver } from '../backup/driver.js';
import type { EngineProbes } from '../checks/engine-probes.js';
import type { MoveOperations } from '../tenants/move-sql.js';
import type { SchemaShape } from '../migrations/schema.js';
import type { DatabaseServer } from './types.js';

/** The database kinds afty drives. A new one is a folder under engines/ plus one line in engines/index.ts. */
export type EngineKind = 'mysql' | 'postgres' | 'sqlite';

/** A server reached over the network (MySQL/MariaDB, PostgreSQL). */
export interface NetworkConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
  database?: string;
}

export type NetworkLocation = {
  driver: 'mysql' | 'postgres';
  connection: NetworkConnection;
  /** Where the user and password came from (a config key or variable), for login errors. */
  source?: string;
  /** PostgreSQL schema-per-tenant: the schema tenant work runs in (its search_path). */
  schema?: string;
};

export type SqliteLocation = { driver: 'sqlite'; filename: string };

/** One database afty can open: a server login (with or without a database) or a SQLite file. */
export type DatabaseLocation = NetworkLocation | SqliteLocation;

export type LocationOf<K extends EngineKind> = K extends 'sqlite'
  ? SqliteLocation
  : NetworkLocation & { driver: K };

/** A table or view of the database a knex is connected to. */
export interface Relation {
  name: string;
  view: boolean;
  /** The engine's cheap row estimate (MySQL's table_rows, PostgreSQL's reltuples); null when it has none. */
  estimate: number | null;
}

/** An insertable column (generated ones left out), for snapshot rows. */
export interface InsertableColumn {
  table: string;
  column: string;
  temporal: boolean;
}

/** What afty reads of a database's structure; every query runs on the connected database (or schema). */
export interface Introspection {
  version(db: Knex): Promise<string>;
  /** Every table and view, knex's bookkeeping tables included, sorted by name. */
  relations(db: Knex): Promise<Relation[]>;
  /** The comparable shape (drift checks, snapshot --check), knex's bookkeeping left out. */
  shape(db: Knex): Promise<SchemaShape>;
  insertableColumns(db: Knex): Promise<InsertableColumn[]>;
  /** Runs `work` with foreign key checks off on this (single-connection) knex: db fresh, loading rows. */
  withoutForeignKeys<T>(db: Knex, work: () => Promise<T>): Promise<T>;
  /**
   * Bounds how long statements of this transaction wait for a row lock (a plain knex holding the
   * migration lock row); returns what undoes it before the connection is used for anything else.
   */
  boundLockWait(trx: Knex.Transaction, seconds: number): Promise<() => Promise<void>>;
  /** Drops one table or view, whatever depends on it. */
  dropRelation(db: Knex, relation: Relation): Promise<void>;
}

/** How snapshots are written and loaded for an engine. */
export interface SnapshotDialect {
  /**
   * The CREATE statements of the migrated database: `tables` run before the snapshot's rows,
   * `rest` (indexes, constraints, views, triggers the engine keeps apart) after them.
   */
  statements(db: Knex, location: DatabaseLocation): Promise<{ tables: string[]; rest: string[] }>;
  /** SQL for "now" as knex_migrations.migration_time stores it. */
  readonly now: string;
  quote(name: string): string;
  /** A string literal as the engine's parser reads it (MySQL treats backslashes as escapes). */
  literal(value: string): string;
  /** A binary literal from hex digits. */
  binary(hex: string): string;
  /** Statements around the whole file (foreign key checks off while loading, back on after). */
  readonly prologue: string[];
  readonly epilogue: string[];
  /** Runs the snapshot's SQL in the (empty) database at `location`. */
  load(location: DatabaseLocation, sql: string): Promise<void>;
}

/** Variables `tenant run` hands a tenant command for its database (Laravel's DB_* names). */
export type RunEnvironment = Record<string, string>;

/**
 * Everything engine-specific, in one place per engine. `satisfies Record<EngineKind, Engine>` in
 * engines/index.ts makes the compiler name whatever a new engine still lacks.
 */
export interface Engine<K extends EngineKind = EngineKind> {
  readonly kind: K;
  /** For messages: "MySQL/MariaDB", "PostgreSQL", "SQLite". */
  readonly label: string;
  /** URL schemes (without ':') and knex `client` names this engine accepts in the config. */
  readonly schemes: readonly string[];
  readonly clients: readonly string[];
  /** Parses a URL whose scheme is one of `schemes`; `key` names where it came from, for errors. */
  parseUrl(url: string, baseDir: string, key: string): LocationOf<K>;
  /** Parses a knex-style `connection` object (or string) for one of `clients`. */
  parseConnection(connection: unknown, baseDir: string, key: string): LocationOf<K>;
  /** The location without its password, for messages. */
  describe(location: LocationOf<K>): string;
  /** A connection URL with credentials (DATABASE_URL for tenant commands). */
  connectionUrl(location: LocationOf<K>): string;
  /** The same login with no default database (the server itself). */
  withoutDatabase(location: LocationOf<K>): LocationOf<K>;
  /** Creates the registry's database if missing (afty init); a no-op for SQLite. */
  createRegistryDatabase(location: LocationOf<K>): Promise<void>;
  runEnvironment(location: LocationOf<K>, database: string): RunEnvironment;
  /** The knex configuration to open `location` (afty's shared knex.ts adds tracking and timeouts). */
  knexConfig(location: LocationOf<K>, options: KnexOpenOptions): Knex.Config;
  openServer(server: ServerConfig & { location: LocationOf<K> }, config: AftyConfig): DatabaseServer;
  readonly introspection: Introspection;
  readonly snapshot: SnapshotDialect;
  backup(server: DatabaseServer): BackupDriver;
  /** The external programs backups need (first found wins), checked before a run starts; none for SQLite. */
  readonly backupTools: { dump: string[]; load: string[]; installHint: string } | null;
  /** Binary column types for the database cache store's tables (keys compare byte by byte). */
  readonly cacheColumnTypes: { key: string; value: string; tag: string };
  /** The archive file extension of this engine's backups (before any .gz). */
  readonly archiveExtension: string;
  /**
   * The client command that runs `sql` as the login of `location`, for remedies an operator can
   * paste (the password is asked for, never printed).
   */
  adminShellCommand(location: LocationOf<K>, sql: string): string;
  /** Whether DDL rolls back with a failed migration's transaction (PostgreSQL, SQLite yes; MySQL no). */
  readonly transactionalDdl: boolean;
  /**
   * A lock named server-wide, held by one connection and released by the server when that
   * connection dies (MySQL GET_LOCK, PostgreSQL advisory locks); null where there is none (SQLite).
   */
  readonly namedLock: NamedLock | null;
  /** Fingerprints (proving a moved or cloned copy identical) and usage, for tenant mobility and `servers list`. */
  mobility(server: DatabaseServer): MoveOperations;
  /** The SQL afty test and diagnose run on this engine's servers (checks/engine-probes.ts); null for SQLite. */
  readonly checkProbes: EngineProbes | null;
  /** How the watchdog tells a frozen server from a slow query; null for an embedded engine. */
  readonly liveness: Liveness<K> | null;
}

export interface NamedLock {
  /** Waits up to `waitSeconds` for the lock on `connection`; false when another holds it still. */
  acquire(db: Knex, connection: unknown, name: string, waitSeconds: number): Promise<boolean>;
  release(db: Knex, connection: unknown, name: string): Promise<void>;
}

/** A raw driver connection's socket, which afty destroys to end work on a dead server or an abort. */
export interface RawSocket {
  destroy(error?: Error): void;
  once(event: 'close', listener: () => void): void;
}

export interface Liveness<K extends EngineKind> {
  /** Opens one fresh connection and runs SELECT 1: is the server answering at all? */
  probe(location: LocationOf<K>, timeoutMs: number): Promise<void>;
  socketOf(raw: unknown): RawSocket | undefined;
}

export interface KnexOpenOptions {
  poolMax: number;
  connectTimeoutMs: number;
  multipleStatements: boolean;
  /** Called with each new raw connection (to track and close it on abort). */
  afterCreate(raw: unknown): void;
}

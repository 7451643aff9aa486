import type { DatabaseLocation, EngineKind } from './engine.js';

export interface DatabaseCredentials {
  user: string;
  password: string;
}

export interface DatabaseStats {
  bytes: number;
  tables: number;
}

/** Admin operations on one database server, the same for every driver. */
export interface DatabaseServer {
  readonly name: string;
  readonly driver: EngineKind;
  /** Whether per-tenant users exist on this driver (MySQL and PostgreSQL yes, SQLite no). */
  readonly supportsUsers: boolean;
  /** Server URL without password, for messages. */
  readonly description: string;
  ping(): Promise<{ version: string; latencyMs: number }>;
  createDatabase(database: string): Promise<void>;
  dropDatabase(database: string): Promise<void>;
  databaseExists(database: string): Promise<boolean>;
  listDatabases(prefix: string): Promise<string[]>;
  databaseStats(database: string): Promise<DatabaseStats>;
  /** Idempotent: an existing user gets this password and the grant. */
  createUser(user: string, password: string, database: string): Promise<void>;
  dropUser(user: string): Promise<void>;
  userExists(user: string): Promise<boolean>;
  /** Where tenant work connects: the tenant's own credentials when it has a user. */
  tenantLocation(database: string, credentials?: DatabaseCredentials): DatabaseLocation;
  close(): Promise<void>;
}

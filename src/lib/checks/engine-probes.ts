import type { Knex } from 'knex';
import type { EngineKind, NetworkLocation } from '../servers/engine.js';
import { engineOf } from '../servers/engines/index.js';

/** One statement a tenant's login must be refused, with what it would mean if it ran. */
export interface AccessAttempt {
  what: string;
  sql: string;
  bindings: string[];
}

/** A tenant's place on its server: its database, or its schema inside the shared database. */
export interface TenantPlace {
  user: string;
  /** MySQL's user host (tenancy.userHost); PostgreSQL roles have none. */
  userHost: string;
  database: string;
  /** PostgreSQL schema per tenant: the tenant's schema (`database` is then the shared database). */
  schema?: string;
}

export interface PrivilegeFindings {
  violations: string[];
  /** The statements that take the violations away. */
  remedy: string;
}

export interface ServerSettings {
  /** One line: version, limits and what is in use. */
  summary: string;
  details: Record<string, unknown>;
  /** Connections a client like afty can open at most (max_connections less any reserved ones). */
  usable: number;
  connected: number;
  /** Settings that do not fit afty's work, one line each with the change to make. */
  problems: string[];
}

/**
 * The SQL the checks run on a network engine (MySQL/MariaDB, PostgreSQL), in one object per
 * engine: the check objects stay engine-neutral. SQLite has none (no users, no sessions).
 */
export interface EngineProbes {
  /** A statement or login the server refused for lack of privilege. */
  isDenied(error: unknown): boolean;
  /** A statement that failed because its table does not exist. */
  isMissingTable(error: unknown): boolean;
  /** Cross-tenant probes: what the tenant's login may try in another tenant's database. */
  access: {
    /** Where the tenant's login connects to try (`asTenant`: its credentials on the target's place). */
    login(asTenant: NetworkLocation): NetworkLocation;
    /** Whether the login itself was refused the target (no CONNECT on a PostgreSQL database): as it should be. */
    loginRefused(error: unknown): boolean;
    /** Whether being let in at `login` already reaches the target (PostgreSQL database per tenant). */
    loginReaches(asTenant: NetworkLocation): boolean;
    /** The statements, on a table `readable` the admin made in the target and a table `created` that must not appear. */
    attempts(target: NetworkLocation, readable: string, created: string): AccessAttempt[];
    /** What the catalog says the tenant's user holds on the target (run as the admin at `target`). */
    granted(admin: Knex, user: string, target: NetworkLocation): Promise<string[]>;
  };
  /** A tenant user as the engine names it, for messages (user@host on MySQL). */
  describeUser(place: TenantPlace): string;
  /** How to take a tenant user's privileges on other tenants away (the isolation remedy). */
  revokeOthers(user: string, userHost: string): string;
  /** What a tenant user holds beyond its own database; undefined when the user does not exist. */
  tenantPrivileges(admin: Knex, place: TenantPlace): Promise<PrivilegeFindings | undefined>;
  /** Whether a login tried with an empty password failed because the server asked for a real one. */
  passwordRequired(error: unknown): boolean;
  /** What it means that the tenant's user logged in with no password, and what to do. */
  passwordless(place: TenantPlace, fix: string): { status: 'warn' | 'fail'; message: string; remedy: string };
  /** The admin login's own privileges, for the report; `problems` lists what afty's work lacks. */
  adminPrivileges(
    admin: Knex,
    needs: { createDatabases: boolean; createUsers: boolean },
  ): Promise<{ summary: string; problems: string[]; details: Record<string, unknown> }>;
  serverSettings(admin: Knex): Promise<ServerSettings>;
  /** Users that log in as anyone from some host (MySQL's anonymous users); null when the engine has none. */
  anonymousUsers: ((admin: Knex) => Promise<string[]>) | null;
  /** Sessions other than this one on the tenant's database (or, per schema, of the tenant's user). */
  otherSessions(admin: Knex, place: Omit<TenantPlace, 'user'> & { user?: string }): Promise<number>;
  /**
   * After a tenant's user was recreated: gives it back what it owned in its database (or
   * schema), run as the admin there; returns how many objects. MySQL's grants need nothing.
   */
  handBack(admin: Knex, user: string, schema: string | undefined): Promise<number>;
  /** Users whose name starts with `prefix` (on `userHost` for MySQL). */
  prefixedUsers(admin: Knex, prefix: string, userHost: string): Promise<string[]>;
  /** SQL that drops a user no tenant owns, keeping whatever it owns. */
  dropUser(user: string, userHost: string): string;
  /** SQL that drops a tenant-prefixed database (or schema) no tenant owns. */
  dropDatabase(name: string, schema: boolean): string;
}

/** The probes of a server's engine (Engine.checkProbes); null for SQLite. */
export function probesOf(kind: EngineKind): EngineProbes | null {
  return engineOf(kind).checkProbes;
}

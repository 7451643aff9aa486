import { OperationError, errorMessage } from '../errors.js';
import {
  describeSchema,
  diffSchemas,
  migrateRegistered,
  sourceOf,
  tenantStatus,
  unlockTenant,
  type SchemaShape,
  type TenantMigrationStatus,
  type TenantMigrationSource,
} from '../migrations/index.js';
import type { TenantRecord } from '../registry/index.js';
import { adminLocation, revealPassword, tenantLocation } from '../tenants/index.js';
import { adminSqlCommand, forTenant, serverAdminLocation, withDatabase } from './probes.js';
import { shellWord } from '../validation/index.js';
import type { DatabaseLocation } from '../config/index.js';
import type { DatabaseServer } from '../servers/index.js';
import type { NetworkLocation } from '../servers/engine.js';
import { probesOf } from './engine-probes.js';
import type { CheckContext, CheckOutcome, ServerCheck, TenantCheck } from './types.js';
import { MOVED_MARK, SAFETY_MARK } from '../backup/naming.js';
import { CACHE_TABLE, CACHE_TAGS_TABLE } from '../cache/database-store.js';

export const databasePresent: TenantCheck = {
  id: 'database.present',
  category: 'database',
  title: "the tenant's database exists on its server",
  remedy: 'afty diagnose --fix (creates the database and migrates it)',
  scope: 'tenant',
  async run(ctx, tenant) {
    const server = ctx.afty.servers.get(tenant.server);
    if (await server.databaseExists(tenant.database)) {
      return { status: 'pass', message: `${tenant.database} exists on server "${tenant.server}"` };
    }
    return {
      status: 'fail',
      message: `database ${tenant.database} of ${tenant.id} is missing on server "${tenant.server}"`,
      remedy: `${forTenant('diagnose --fix', tenant)} (creates and migrates it), or restore it with afty backup restore`,
    };
  },
  async fix(ctx, tenant) {
    const server = ctx.afty.servers.get(tenant.server);
    if (await server.databaseExists(tenant.database))
      throw new OperationError('the database exists: nothing to create', { tenant: tenant.id });
    return recreateDatabase(ctx, tenant);
  },
};

/**
 * Creates a tenant's missing database, gives it to the tenant's user (with the password the
 * registry holds) and applies the tenant migrations as that user.
 */
export async function recreateDatabase(ctx: CheckContext, tenant: TenantRecord): Promise<string> {
  const server = ctx.afty.servers.get(tenant.server);
  await server.createDatabase(tenant.database);
  const password = tenant.dbUser ? revealPassword(tenant, ctx.afty.config.secret) : undefined;
  // The user's hold on a dropped database may be gone with it (PostgreSQL's owner): given back.
  if (server.supportsUsers && tenant.dbUser && password !== undefined)
    await server.createUser(tenant.dbUser, password, tenant.database);
  const source = await migrationSource(ctx);
  try {
    const { applied } = await migrateRegistered(ctx.afty, tenant, source, {});
    return `created ${tenant.database} on "${tenant.server}" and applied ${applied.length} migration(s)`;
  } catch (error) {
    // Never dropped again: the empty database is kept and the failure says what is left to do.
    throw new OperationError(`created ${tenant.database}, but migrating it failed: ${errorMessage(error)}`, {
      tenant: tenant.id,
      hint: forTenant('db migrate', tenant),
    });
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/**
 * Whether `database` on `server` is the central registry itself: it may share the tenant prefix
 * (`x_central` beside `x_acme`), and it is no tenant's. Loopback names count as one host.
 */
function isRegistry(server: DatabaseServer, database: string, central: DatabaseLocation): boolean {
  const location = server.tenantLocation(database);
  if (location.driver === 'sqlite' || central.driver === 'sqlite') {
    return (
      location.driver === 'sqlite' && central.driver === 'sqlite' && location.filename === central.filename
    );
  }
  // A tenant schema is never the registry, which is a database of its own or shares one.
  if (location.schema !== undefined) return false;
  const host = (name: string) => (LOOPBACK.has(name.toLowerCase()) ? 'loopback' : name.toLowerCase());
  return (
    central.connection.database === database &&
    central.connection.port === location.connection.port &&
    host(central.connection.host) === host(location.connection.host)
  );
}

export const orphanDatabases: ServerCheck = {
  id: 'database.orphans',
  category: 'database',
  title: 'no database with the tenant prefix lacks a tenant',
  remedy: 'register the database as a tenant (afty tenant adopt) or drop it after checking its contents',
  scope: 'server',
  async run(ctx, server) {
    // Half-created tenants own their databases too: diagnose reports them as tenants.provisioning.
    const owned = new Set(
      (await ctx.everyTenant())
        .filter((tenant) => tenant.server === server.name)
        .map((tenant) => tenant.database),
    );
    const prefix = (await ctx.afty.registry()).databasePrefix;
    // A tenant's backup safety copies (<database>$s…) are owned by it and pruned by afty backup prune.
    const isSafetyCopy = (database: string) =>
      owned.has(database.split(SAFETY_MARK)[0]!) && database.includes(SAFETY_MARK);
    // What a tenant move left behind (<database>$m…) belongs to the tenant wherever it is now.
    const everywhere = new Set((await ctx.everyTenant()).map((tenant) => tenant.database));
    const isMovedCopy = (database: string) =>
      database.includes(MOVED_MARK) && everywhere.has(database.split(MOVED_MARK)[0]!);
    const orphans = (await server.listDatabases(prefix)).filter(
      (database) =>
        !owned.has(database) &&
        !isSafetyCopy(database) &&
        !isMovedCopy(database) &&
        !isRegistry(server, database, ctx.afty.config.central),
    );
    if (orphans.length === 0)
      return { status: 'pass', message: `every ${prefix}* database on "${server.name}" belongs to a tenant` };
    const drop = (database: string) => {
      const location = server.tenantLocation(database);
      return location.driver === 'sqlite'
        ? `rm ${shellWord(location.filename)}`
        : adminSqlCommand(
            server,
            probesOf(server.driver)!.dropDatabase(database, location.schema !== undefined),
          );
    };
    return {
      status: 'warn',
      message: `${orphans.length} database(s) on "${server.name}" with prefix ${prefix} and no tenant: ${orphans.join(', ')}`,
      details: { orphans },
      remedy: `check the contents, then register it as a tenant (afty tenant adopt DATABASE --server ${server.name}) or drop it: ${orphans.map((database) => `${database}: ${drop(database)}`).join('; ')}`,
    };
  },
};

/** knex's own table names, which the tenant migrator keeps so plain knex tools work. */
const KNEX_TABLES = ['knex_migrations', 'knex_migrations_lock'];

/** The migration source, listed once per run (a bad directory fails every check that needs it). */
function migrationSource(ctx: CheckContext): Promise<TenantMigrationSource> {
  return ctx.shared('migrations:source', async () => sourceOf(ctx.afty));
}

/**
 * Migration state is read with the server's credentials: a missing or locked-out tenant user is
 * reported once (tenants.user, connections.tenant) instead of failing every migration check too.
 */
function adminTarget(ctx: CheckContext, tenant: TenantRecord): Parameters<typeof tenantStatus>[0] {
  return { tenant: tenant.id, location: adminLocation(ctx.afty, tenant) };
}

/** Migration checks need the database: when it is missing, database.present reports it once. */
async function missingDatabase(ctx: CheckContext, tenant: TenantRecord): Promise<CheckOutcome | undefined> {
  if (await ctx.afty.servers.get(tenant.server).databaseExists(tenant.database)) return undefined;
  return { status: 'skip', message: `database ${tenant.database} is missing (see database.present)` };
}

/** Judges the tenant's migration state, or skips when its database is missing. */
async function judgeMigrations(
  ctx: CheckContext,
  tenant: TenantRecord,
  judge: (status: TenantMigrationStatus) => Promise<CheckOutcome> | CheckOutcome,
): Promise<CheckOutcome> {
  const missing = await missingDatabase(ctx, tenant);
  if (missing) return missing;
  return judge(await tenantStatus(adminTarget(ctx, tenant), await migrationSource(ctx)));
}

export const knexTables: TenantCheck = {
  id: 'database.migration-tables',
  category: 'database',
  title: "knex's migration tables are present",
  remedy: 'afty db migrate (creates them with the first migration)',
  scope: 'tenant',
  async run(ctx, tenant) {
    const missing = await missingDatabase(ctx, tenant);
    if (missing) return missing;
    if ((await migrationSource(ctx)).list().length === 0)
      return { status: 'skip', message: 'no tenant migrations are configured' };
    const absent = await withDatabase(adminLocation(ctx.afty, tenant), async (db) => {
      const present = await Promise.all(KNEX_TABLES.map((table) => db.schema.hasTable(table)));
      return KNEX_TABLES.filter((_, index) => !present[index]);
    });
    if (absent.length === 0) return { status: 'pass', message: `${KNEX_TABLES.join(' and ')} present` };
    return {
      status: 'fail',
      message: `${tenant.database} has no ${absent.join(' or ')}: it was never migrated`,
      remedy: forTenant('db migrate', tenant),
    };
  },
};

export const pendingMigrations: TenantCheck = {
  id: 'database.pending',
  category: 'database',
  title: 'no migration is pending',
  remedy: 'afty db migrate',
  scope: 'tenant',
  run: (ctx, tenant) =>
    judgeMigrations(ctx, tenant, (status) => {
      const named = (state: string) =>
        status.migrations.filter((entry) => entry.state === state).map((entry) => entry.name);
      const details = { applied: status.applied, pending: named('pending'), missing: named('missing') };
      if (status.pending > 0) {
        return {
          status: 'fail',
          message: `${status.pending} pending migration(s) on ${tenant.id}: ${details.pending.join(', ')}`,
          details,
          remedy: forTenant('db migrate', tenant),
        };
      }
      if (status.missing > 0) {
        return {
          status: 'warn',
          message: `${status.missing} applied migration(s) of ${tenant.id} are not in ${ctx.afty.config.migrations.directory}: ${details.missing.join(', ')}`,
          details,
          remedy: 'restore the migration files (or check migrations.directory)',
        };
      }
      return { status: 'pass', message: `${status.applied} applied, none pending`, details };
    }),
};

interface TenantSchema {
  tenant: string;
  /** Applied migrations, in order: tenants compare only with tenants at the same point. */
  migrations: string;
  shape: SchemaShape;
  fingerprint: string;
}

/**
 * The database cache store's tables appear with a tenant's first cache write, whatever its
 * migrations: afty's own, like knex's, so never drift.
 */
function withoutCacheTables(shape: SchemaShape): SchemaShape {
  const tables = Object.fromEntries(
    Object.entries(shape.tables).filter(([name]) => name !== CACHE_TABLE && name !== CACHE_TAGS_TABLE),
  );
  return { ...shape, tables };
}

/** Every selected tenant's applied migrations and schema, read once per run. */
function fleetSchemas(ctx: CheckContext): Promise<Map<string, TenantSchema | Error>> {
  return ctx.shared('database:schemas', async () => {
    const source = await migrationSource(ctx);
    const schemas = new Map<string, TenantSchema | Error>();
    for (const tenant of await ctx.selected()) {
      try {
        const status = await tenantStatus(adminTarget(ctx, tenant), source);
        // As the tenant: information_schema then holds only its database, which keeps the read fast.
        const location = tenantLocation(ctx.afty, tenant);
        const shape = withoutCacheTables(
          await withDatabase(location, (db) => describeSchema(db, location.driver)),
        );
        const migrations = status.migrations
          .filter((entry) => entry.state !== 'pending')
          .map((entry) => entry.name)
          .join('\n');
        schemas.set(tenant.id, { tenant: tenant.id, migrations, shape, fingerprint: JSON.stringify(shape) });
      } catch (error) {
        schemas.set(tenant.id, error instanceof Error ? error : new Error(String(error)));
      }
    }
    return schemas;
  });
}

export const schemaDrift: TenantCheck = {
  id: 'database.schema-drift',
  category: 'database',
  title:
    'tenants with the same migrations have the same tables, columns (charset and collation too) and indexes',
  remedy:
    'bring the drifted tables back in line with a migration (or restore the tenant), then afty test database',
  scope: 'tenant',
  async run(ctx, tenant) {
    const missing = await missingDatabase(ctx, tenant);
    if (missing) return missing;
    const schemas = await fleetSchemas(ctx);
    const own = schemas.get(tenant.id);
    if (!own) return { status: 'skip', message: `${tenant.id} was not read` };
    if (own instanceof Error) throw own;
    const peers = [...schemas.values()].filter(
      (entry): entry is TenantSchema => !(entry instanceof Error) && entry.migrations === own.migrations,
    );
    if (peers.length < 2)
      return {
        status: 'pass',
        message: 'no other tenant has the same migrations applied: nothing to compare',
      };
    // The most common shape among peers is the reference; ties go to the tenant first by id.
    const votes = new Map<string, TenantSchema[]>();
    for (const peer of peers) votes.set(peer.fingerprint, [...(votes.get(peer.fingerprint) ?? []), peer]);
    const reference = [...votes.values()].sort(
      (a, b) => b.length - a.length || a[0]!.tenant.localeCompare(b[0]!.tenant),
    )[0]![0]!;
    if (own.fingerprint === reference.fingerprint) {
      return {
        status: 'pass',
        message: `same schema as ${votes.get(own.fingerprint)!.length - 1} other tenant(s) with the same migrations`,
      };
    }
    const differences = diffSchemas(reference.shape, own.shape, {
      expected: reference.tenant,
      actual: tenant.id,
    });
    return {
      status: 'fail',
      message: `${tenant.id} drifted from ${reference.tenant} (same migrations): ${differences.join('; ')}`,
      details: { reference: reference.tenant, differences },
    };
  },
};

export const staleLock: TenantCheck = {
  id: 'database.migration-lock',
  category: 'database',
  title: 'no stale migration lock',
  remedy: 'afty diagnose --fix (frees a lock no running migration holds), or afty db unlock',
  scope: 'tenant',
  run: (ctx, tenant) =>
    judgeMigrations(ctx, tenant, async (status) => {
      if (!status.locked) return { status: 'pass', message: 'not locked' };
      const sessions = await otherSessions(ctx, tenant);
      if (sessions > 0) {
        return {
          status: 'warn',
          message: `the migration lock is held and ${sessions} other session(s) use ${tenant.database}: a migration may be running`,
          remedy: `wait for it; if none is running, ${forTenant('db unlock', tenant)}`,
        };
      }
      return {
        status: 'fail',
        message: `${tenant.id}'s migration lock is held but no session uses ${tenant.database}: left by a crashed run`,
        remedy: forTenant('diagnose --fix', tenant),
      };
    }),
  async fix(ctx, tenant) {
    if ((await otherSessions(ctx, tenant)) > 0)
      throw new OperationError('not freed: another session uses the database, a migration may be running', {
        tenant: tenant.id,
      });
    const { wasLocked } = await unlockTenant(adminTarget(ctx, tenant));
    return wasLocked
      ? `freed the stale migration lock of ${tenant.id}`
      : `the lock of ${tenant.id} was already free`;
  },
};

/** Other sessions on the tenant's database (or schema); SQLite has no session list, so 0. */
async function otherSessions(ctx: CheckContext, tenant: TenantRecord): Promise<number> {
  const server = ctx.afty.servers.get(tenant.server);
  const probes = probesOf(server.driver);
  if (!probes) return 0;
  const location = adminLocation(ctx.afty, tenant) as NetworkLocation;
  return withDatabase(serverAdminLocation(server), (db) =>
    probes.otherSessions(db, {
      database: location.connection.database ?? tenant.database,
      userHost: ctx.afty.config.tenancy.userHost,
      ...(location.schema !== undefined ? { schema: location.schema } : {}),
      ...(tenant.dbUser ? { user: tenant.dbUser } : {}),
    }),
  );
}

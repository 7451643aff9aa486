import type { Knex } from 'knex';
import { ConfigError, ServiceError } from '../errors.js';
import type { NamedLock } from '../servers/engine.js';
import { engineForClient } from '../servers/engines/index.js';

/**
 * The registry's own migrations, kept in code so the schema ships with the tool.
 * Append new entries; never edit a released one.
 */
const registryMigrations: Array<{
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}> = [
  {
    name: '0001_create_registry',
    async up(db) {
      await db.schema.createTable('afty_tenants', (table) => {
        table.string('id', 40).primary();
        table.string('name', 191).notNullable();
        table.string('status', 16).notNullable().defaultTo('active').index();
        table.string('status_reason', 255).nullable();
        table.string('server', 32).notNullable().index();
        table.string('database', 64).notNullable().unique();
        table.string('db_user', 80).nullable();
        table.text('db_password').nullable();
        table.text('settings').notNullable();
        table.datetime('created_at', { precision: 3 }).notNullable();
        table.datetime('updated_at', { precision: 3 }).notNullable();
        table.datetime('last_migrated_at', { precision: 3 }).nullable();
      });
      await db.schema.createTable('afty_domains', (table) => {
        table.string('domain', 253).primary();
        table
          .string('tenant_id', 40)
          .notNullable()
          .references('id')
          .inTable('afty_tenants')
          .onDelete('CASCADE');
        table.boolean('is_primary').notNullable().defaultTo(false);
        table.datetime('created_at', { precision: 3 }).notNullable();
        table.index(['tenant_id']);
      });
      await db.schema.createTable('afty_audit', (table) => {
        table.bigIncrements('id');
        table.datetime('at', { precision: 3 }).notNullable().index();
        table.string('actor', 191).notNullable();
        table.string('command', 191).notNullable();
        table.string('tenant_id', 40).nullable().index();
        table.string('outcome', 16).notNullable();
        table.text('arguments').notNullable();
        table.text('error').nullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('afty_audit');
      await db.schema.dropTableIfExists('afty_domains');
      await db.schema.dropTableIfExists('afty_tenants');
    },
  },
  {
    // tenant create writes the row first (status provisioning) with what it was asked to do.
    name: '0002_tenant_provisioning',
    async up(db) {
      await db.schema.alterTable('afty_tenants', (table) => {
        table.text('provisioning').nullable();
      });
    },
    async down(db) {
      await db.schema.alterTable('afty_tenants', (table) => {
        table.dropColumn('provisioning');
      });
    },
  },
  {
    // Who holds a tenant's migration lock, so a lock left by a killed run can be told apart from
    // one a live run holds (knex's own lock table records only 0 or 1).
    name: '0003_migration_lock_holders',
    async up(db) {
      await db.schema.createTable('afty_lock_holders', (table) => {
        table.string('tenant_id', 191).primary();
        table.string('host', 255).notNullable();
        table.integer('pid').notNullable();
        table.datetime('acquired_at', { precision: 3 }).notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('afty_lock_holders');
    },
  },
  {
    // Every fleet run that changes tenants: what ran, where, and how each tenant ended, so a run
    // can be listed, resumed, merged across shards and rolled back exactly.
    name: '0004_runs',
    async up(db) {
      await db.schema.createTable('afty_runs', (table) => {
        table.string('id', 64).primary();
        table.string('command', 64).notNullable().index();
        table.text('arguments').notNullable();
        table.string('actor', 191).notNullable();
        table.datetime('started_at', { precision: 3 }).notNullable().index();
        table.datetime('finished_at', { precision: 3 }).nullable();
        table.string('resumes', 64).nullable();
      });
      // One process's share of a run (a shard, or the whole run): where it ran and how it ended.
      await db.schema.createTable('afty_run_parts', (table) => {
        table.string('run_id', 64).notNullable().references('id').inTable('afty_runs').onDelete('CASCADE');
        table.string('part', 32).notNullable();
        table.string('host', 255).notNullable();
        table.integer('pid').notNullable();
        table.datetime('started_at', { precision: 3 }).notNullable();
        table.datetime('finished_at', { precision: 3 }).nullable();
        table.string('outcome', 32).nullable();
        table.primary(['run_id', 'part']);
      });
      await db.schema.createTable('afty_run_tenants', (table) => {
        table.string('run_id', 64).notNullable().references('id').inTable('afty_runs').onDelete('CASCADE');
        table.string('tenant_id', 191).notNullable();
        table.string('part', 32).notNullable();
        table.string('status', 16).notNullable();
        table.integer('duration_ms').nullable();
        table.text('error').nullable();
        table.string('step', 255).nullable();
        table.text('detail').nullable();
        table.datetime('finished_at', { precision: 3 }).nullable();
        table.primary(['run_id', 'tenant_id']);
        table.index(['tenant_id']);
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('afty_run_tenants');
      await db.schema.dropTableIfExists('afty_run_parts');
      await db.schema.dropTableIfExists('afty_runs');
    },
  },
  {
    // With registry.kind stancl or mapping the tenants live in the application's tables: what
    // afty knows about a tenant beyond them (server, status reason, provisioning, last migration,
    // and whatever those tables have no column for) lives here, keyed by the tenant's id.
    name: '0005_tenant_state',
    async up(db) {
      await db.schema.createTable('afty_tenant_state', (table) => {
        table.string('tenant_id', 64).primary();
        table.string('server', 32).nullable();
        table.string('name', 191).nullable();
        table.string('status', 16).nullable();
        table.string('status_reason', 255).nullable();
        table.text('settings').nullable();
        table.string('db_user', 80).nullable();
        table.text('db_password').nullable();
        table.text('provisioning').nullable();
        table.datetime('created_at', { precision: 3 }).nullable();
        table.datetime('last_migrated_at', { precision: 3 }).nullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('afty_tenant_state');
    },
  },
];

export const REGISTRY_MIGRATIONS_TABLE = 'afty_registry_migrations';
export const REGISTRY_SCHEMA_VERSION = registryMigrations.at(-1)!.name;

const migrationSource: Knex.MigrationSource<(typeof registryMigrations)[number]> = {
  getMigrations: async () => registryMigrations,
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => ({ up: migration.up, down: migration.down }),
};

/** The newest registry migration applied, or undefined for an empty database. */
export async function registrySchemaVersion(db: Knex): Promise<string | undefined> {
  if (!(await db.schema.hasTable(REGISTRY_MIGRATIONS_TABLE))) return undefined;
  const rows = (await db(REGISTRY_MIGRATIONS_TABLE).select('name').orderBy('name')) as Array<{
    name: string;
  }>;
  return rows.at(-1)?.name;
}

/** How long a process waits for another one creating or upgrading the schema. */
const SCHEMA_WAIT_MS = 60_000;

/**
 * Creates or upgrades the registry schema; a no-op read when it is current. Several processes
 * may meet an empty registry at once (parallel `tenant create` in a script): one creates the
 * schema, the others wait for it instead of failing on knex's migration lock.
 */
export async function ensureRegistrySchema(db: Knex): Promise<void> {
  const version = await registrySchemaVersion(db);
  if (version === REGISTRY_SCHEMA_VERSION) return;
  // A newer afty upgraded this registry: knex would call its migrations "corrupt".
  if (version && !registryMigrations.some((migration) => migration.name === version)) {
    throw new ConfigError(
      `the registry was upgraded by a newer afty (schema ${version}; this afty knows up to ${REGISTRY_SCHEMA_VERSION})`,
      { hint: 'upgrade afty here to the release the rest of your tooling runs' },
    );
  }
  const migrate = async () => {
    // Read again: the process that held the lock may have done the work meanwhile.
    if ((await registrySchemaVersion(db)) === REGISTRY_SCHEMA_VERSION) return;
    await db.migrate.latest({ migrationSource, tableName: REGISTRY_MIGRATIONS_TABLE });
  };
  const { namedLock } = engineForClient(String(db.client.config.client))!;
  if (namedLock) await withServerLock(db, namedLock, migrate);
  else await retryWhileBusy(migrate);
}

/**
 * A named server lock (MySQL GET_LOCK, PostgreSQL advisory lock) on a connection of its own, held
 * while migrating. The server releases it when its holder dies, so a killed process never blocks the next one; whoever
 * holds it is the only one migrating, so a knex lock still set was left by a killed run.
 */
async function withServerLock(db: Knex, lock: NamedLock, migrate: () => Promise<void>): Promise<void> {
  const name = `afty_registry:${String(db.client.config.connection?.database ?? '')}`;
  const connection = (await db.client.acquireConnection()) as unknown;
  try {
    if (!(await lock.acquire(db, connection, name, SCHEMA_WAIT_MS / 1000))) {
      throw new ServiceError(
        `another afty has been creating the registry schema for ${SCHEMA_WAIT_MS / 1000} s (server lock ${name})`,
        { hint: 'wait for it to finish, then retry' },
      );
    }
    try {
      if (await db.schema.hasTable(`${REGISTRY_MIGRATIONS_TABLE}_lock`)) {
        await db.migrate.forceFreeMigrationsLock({ migrationSource, tableName: REGISTRY_MIGRATIONS_TABLE });
      }
      await migrate();
    } finally {
      await lock.release(db, connection, name);
    }
  } finally {
    await db.client.releaseConnection(connection);
  }
}

/**
 * SQLite has no named locks: a process that meets knex's lock, or a table another process just
 * created, waits and tries again until the other one is done.
 */
async function retryWhileBusy(migrate: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + SCHEMA_WAIT_MS;
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    try {
      await migrate();
      return;
    } catch (error) {
      const busy = /already locked|already exists|SQLITE_BUSY|database is locked/i.test(String(error));
      if (!busy || Date.now() > deadline) {
        if (!busy) throw error;
        throw new ServiceError(`the registry schema stayed locked for ${SCHEMA_WAIT_MS / 1000} s`, {
          hint: 'another afty may still be creating it; if none runs, a killed one left the lock: UPDATE afty_registry_migrations_lock SET is_locked = 0',
          cause: error,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

import type { Knex } from 'knex';

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
    // Who holds a tenant's migration lock, so a lock left by a killed run can be told apart from
    // one a live run holds (knex's own lock table records only 0 or 1).
    name: '0002_migration_lock_holders',
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
    name: '0003_runs',
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

/** Creates or upgrades the registry schema; a no-op read when it is current. */
export async function ensureRegistrySchema(db: Knex): Promise<void> {
  if ((await registrySchemaVersion(db)) === REGISTRY_SCHEMA_VERSION) return;
  await db.migrate.latest({ migrationSource, tableName: REGISTRY_MIGRATIONS_TABLE });
}

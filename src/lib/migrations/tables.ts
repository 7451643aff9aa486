/**
 * knex's own tables, so `knex migrate:status` and friends can inspect a tenant database. A module
 * of its own, importing nothing: schema.ts and data.ts read these names at load time, and they are
 * in an import cycle with bookkeeping.ts (bookkeeping → engines → introspection → schema).
 */
export const MIGRATIONS_TABLE = 'knex_migrations';
export const LOCK_TABLE = 'knex_migrations_lock';

/**
 * knex's own tables, so `knex migrate:status` and friends can inspect a tenant database. A module
 * of its own, importing nothing: the engines' introspection reads these names at load time and
 * is itself imported by bookkeeping.ts (through the engines), a cycle a constant must not be in.
 */
export const MIGRATIONS_TABLE = 'knex_migrations';
export const LOCK_TABLE = 'knex_migrations_lock';

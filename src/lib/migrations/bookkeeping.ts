import type { Knex } from 'knex';
import { OperationError } from '../errors.js';

/** knex's own tables, so `knex migrate:status` and friends can inspect a tenant database. */
export const MIGRATIONS_TABLE = 'knex_migrations';
export const LOCK_TABLE = 'knex_migrations_lock';

export interface MigrationRecord {
  name: string;
  batch: number;
  /** When it was applied (ISO); knex stores a timestamp (MySQL) or epoch milliseconds (SQLite). */
  appliedAt: string | null;
}

function isMissingTable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code === 'ER_NO_SUCH_TABLE' || Boolean(message?.includes('no such table'));
}

function isoTime(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return new Date(value).toISOString();
  const text = String(value);
  if (/^\d+$/.test(text)) return new Date(Number(text)).toISOString();
  // MySQL DATETIME strings (dateStrings) carry no zone; mysql2 writes them in local time.
  const parsed = new Date(text.includes('T') ? text : text.replace(' ', 'T'));
  return Number.isNaN(parsed.getTime()) ? text : parsed.toISOString();
}

/**
 * The applied migrations in the order they ran, in one query; undefined when knex's table does
 * not exist yet (a database nothing was ever migrated into). Never writes.
 */
export async function readRecords(db: Knex | Knex.Transaction): Promise<MigrationRecord[] | undefined> {
  try {
    const rows = (await db(MIGRATIONS_TABLE)
      .select('name', 'batch', 'migration_time')
      .orderBy('id')) as Array<{ name: string; batch: number; migration_time: unknown }>;
    return rows.map((row) => ({
      name: row.name,
      batch: Number(row.batch),
      appliedAt: isoTime(row.migration_time),
    }));
  } catch (error) {
    if (isMissingTable(error)) return undefined;
    throw error;
  }
}

function isAlreadyThere(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return (
    code === 'ER_TABLE_EXISTS_ERROR' ||
    code === 'ER_DUP_ENTRY' ||
    Boolean(message?.includes('already exists') || message?.includes('UNIQUE constraint failed'))
  );
}

/** Tolerates a concurrent run creating the same table or row first. */
async function unlessAlreadyThere(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!isAlreadyThere(error)) throw error;
  }
}

/**
 * Creates knex's two tables and the lock row, as knex's own migrator does, but the lock table and
 * its row first (a concurrent run that sees knex_migrations skips this, so the lock it then takes
 * must already exist), and the row already locked: whoever inserts it holds the lock without a
 * further commit. Each step is attempted rather than checked first (a fresh database has neither
 * table, and information_schema lookups are slow on a server with many databases); the loser of a
 * race between two runs gets "already exists", which is what it wanted. Returns whether this call
 * inserted the row, i.e. holds the lock.
 */
async function createTablesHoldingLock(db: Knex): Promise<boolean> {
  await unlessAlreadyThere(() =>
    db.schema.createTable(LOCK_TABLE, (table) => {
      table.increments('index').primary();
      table.integer('is_locked');
    }),
  );
  let holding = false;
  // A fixed key, so there is only ever one lock row.
  await unlessAlreadyThere(async () => {
    await db(LOCK_TABLE).insert({ index: 1, is_locked: 1 });
    holding = true;
  });
  await unlessAlreadyThere(() =>
    db.schema.createTable(MIGRATIONS_TABLE, (table) => {
      table.increments();
      table.string('name');
      table.integer('batch');
      table.timestamp('migration_time');
    }),
  );
  return holding;
}

/** A tenant whose migration lock another run holds (or a crashed run left behind). */
export class MigrationLockedError extends OperationError {
  /** A fleet run reports this tenant as `locked`, not as a generic failure. */
  readonly fleetStatus = 'locked' as const;

  /** `holder`: what is known of who holds it, and whether it looks stale (see lockDiagnosis). */
  constructor(tenant: string, holder?: { text: string; stale: boolean }) {
    super(`migration lock is held${holder ? ` ${holder.text}` : ' by another run'}`, {
      tenant,
      hint: holder?.stale
        ? `it looks stale: free it with afty db unlock -t ${tenant}`
        : `wait for it to finish; if no run is active, free it with afty db unlock -t ${tenant}`,
    });
  }
}

/**
 * knex's lock protocol: one autocommitted `UPDATE … WHERE is_locked = 0`. Committed on its own
 * (not inside a migration's transaction) so MySQL's implicit DDL commits cannot entangle it and
 * a held lock is reported at once instead of waiting. With `createTables` (knex_migrations is
 * missing) knex's tables are created first, and a run that creates the lock row holds the lock.
 */
export async function acquireLock(
  db: Knex,
  tenant: string,
  options: { createTables?: boolean } = {},
): Promise<void> {
  if (options.createTables && (await createTablesHoldingLock(db))) return;
  const take = () => db(LOCK_TABLE).where('is_locked', 0).update({ is_locked: 1 });
  let updated: number;
  try {
    updated = await take();
  } catch (error) {
    // knex_migrations without its lock table: plain knex (or an older run) stopped between the two.
    if (!isMissingTable(error)) throw error;
    if (await createTablesHoldingLock(db)) return;
    updated = await take();
  }
  // A holder sets every lock row, so any row updated means nobody held it.
  if (Number(updated) < 1) throw new MigrationLockedError(tenant);
}

/** Frees the lock; inside a transaction it is freed when that commits. */
export async function releaseLock(db: Knex | Knex.Transaction): Promise<void> {
  await db(LOCK_TABLE).update({ is_locked: 0 });
}

/** Whether the lock is set; false when knex's tables do not exist. */
export async function isLocked(db: Knex): Promise<boolean> {
  try {
    const rows = (await db(LOCK_TABLE).select('is_locked')) as Array<{ is_locked: number }>;
    return rows.some((row) => Number(row.is_locked) === 1);
  } catch (error) {
    if (isMissingTable(error)) return false;
    throw error;
  }
}

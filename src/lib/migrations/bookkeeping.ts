import type { Knex } from 'knex';
import { OperationError } from '../errors.js';
import { engineForClient } from '../servers/engines/index.js';
import { LOCK_TABLE, MIGRATIONS_TABLE } from './tables.js';

export interface MigrationRecord {
  name: string;
  batch: number;
  /** When it was applied (ISO); knex stores a timestamp (MySQL) or epoch milliseconds (SQLite). */
  appliedAt: string | null;
}

function isMissingTable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  // MySQL, PostgreSQL (undefined_table), SQLite (by message).
  return code === 'ER_NO_SUCH_TABLE' || code === '42P01' || Boolean(message?.includes('no such table'));
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
    // PostgreSQL: duplicate_table, unique_violation (also a racing CREATE TABLE's pg_type row).
    code === '42P07' ||
    code === '23505' ||
    Boolean(message?.includes('already exists') || message?.includes('UNIQUE constraint failed'))
  );
}

/** Another connection holds a write lock on the lock row (plain knex inside its transaction). */
function isLockWait(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return (
    code === 'ER_LOCK_WAIT_TIMEOUT' ||
    code === 'ER_LOCK_DEADLOCK' ||
    // PostgreSQL: lock_not_available, deadlock_detected.
    code === '55P03' ||
    code === '40P01' ||
    Boolean(code?.startsWith('SQLITE_BUSY')) ||
    Boolean(message?.includes('database is locked'))
  );
}

/** Tolerates a concurrent run (afty's or plain knex's) creating the same table or row first. */
async function unlessAlreadyThere(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!isAlreadyThere(error)) throw error;
  }
}

/**
 * Creates knex's two tables and the free lock row as knex's own migrator does (its table-creator:
 * the row is inserted unlocked, and only into an empty table), but the lock table first (a
 * concurrent run that sees knex_migrations skips this, so the lock it then takes must already
 * exist). Each step is attempted rather than checked first; the loser of a race gets "already
 * exists", which is what it wanted. The row has a fixed key, so two afty runs cannot both insert
 * one; a plain knex racing afty may still add a second row, which no one can then lock (knex
 * wants exactly one row updated, afty too) until `afty db unlock` or `knex migrate:unlock`
 * rewrites the table. Never insert the row already locked: a knex that saw the table empty
 * would add its own free row and take the lock beside afty.
 */
async function createTables(db: Knex): Promise<void> {
  await unlessAlreadyThere(() =>
    db.schema.createTable(LOCK_TABLE, (table) => {
      table.increments('index').primary();
      table.integer('is_locked');
    }),
  );
  await unlessAlreadyThere(async () => {
    const rows = await db(LOCK_TABLE).select('index');
    if (rows.length === 0) await db(LOCK_TABLE).insert({ index: 1, is_locked: 0 });
  });
  await unlessAlreadyThere(() =>
    db.schema.createTable(MIGRATIONS_TABLE, (table) => {
      table.increments();
      table.string('name');
      table.integer('batch');
      table.timestamp('migration_time');
    }),
  );
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

/** The lock table holds no row or several: knex cannot lock it either. */
class DamagedLockTableError extends OperationError {
  constructor(tenant: string, rows: number) {
    super(`${LOCK_TABLE} has ${rows} rows; knex's lock needs exactly one`, {
      tenant,
      hint: `if no run is active, rewrite it with afty db unlock -t ${tenant} (as knex migrate:unlock does)`,
    });
  }
}

/**
 * knex's lock protocol (Migrator._lockMigrations): `UPDATE … SET is_locked = 1 WHERE is_locked
 * = 0` must change exactly one row, the table's only one. Taken in a transaction of its own
 * (never a migration's, so MySQL's implicit DDL commits cannot entangle it) that is rolled back
 * unless that holds, so a table knex would refuse is never half-locked by afty. A plain knex
 * inside its migration transaction holds the row: afty waits for it at most LOCK_WAIT_SECONDS
 * (SQLite: its busy timeout) and then reports the lock as held. With
 * `createTables` (knex_migrations is missing) knex's tables are created first.
 */
export async function acquireLock(
  db: Knex,
  tenant: string,
  options: { createTables?: boolean } = {},
): Promise<void> {
  if (options.createTables) await createTables(db);
  const { introspection } = engineForClient(
    String((db.client as { config: { client?: unknown } }).config.client),
  )!;
  const attempt = async (): Promise<{ holding: boolean; rows: number }> => {
    let outcome = { holding: false, rows: 0 };
    try {
      await db.transaction(async (trx) => {
        const unbound = await introspection.boundLockWait(trx, LOCK_WAIT_SECONDS);
        try {
          const updated = Number(await trx(LOCK_TABLE).where('is_locked', 0).update({ is_locked: 1 }));
          const [row] = (await trx(LOCK_TABLE).count({ rows: '*' })) as Array<{ rows: number | string }>;
          outcome = { holding: updated === 1 && Number(row?.rows) === 1, rows: Number(row?.rows) };
        } finally {
          await unbound();
        }
        if (!outcome.holding) throw ROLL_BACK;
      });
    } catch (error) {
      if (error !== ROLL_BACK) throw error;
    }
    return outcome;
  };
  let outcome;
  try {
    try {
      outcome = await attempt();
    } catch (error) {
      // knex_migrations without its lock table: plain knex (or an older run) stopped between the two.
      if (!isMissingTable(error)) throw error;
      await createTables(db);
      outcome = await attempt();
    }
  } catch (error) {
    if (isLockWait(error)) throw new MigrationLockedError(tenant);
    throw error;
  }
  if (outcome.holding) return;
  if (outcome.rows !== 1) throw new DamagedLockTableError(tenant, outcome.rows);
  throw new MigrationLockedError(tenant);
}

/**
 * How long taking the lock waits for a plain knex that holds the lock row inside its migration
 * transaction (until its first DDL commits it, or its last migration) — not the server's 50 s.
 */
const LOCK_WAIT_SECONDS = 5;

/** Thrown inside the lock transaction to roll it back without an error. */
const ROLL_BACK = Symbol('roll back');

/** Frees the lock; inside a transaction it is freed when that commits. */
export async function releaseLock(db: Knex | Knex.Transaction): Promise<void> {
  await db(LOCK_TABLE).update({ is_locked: 0 });
}

/**
 * Frees the lock as `knex migrate:unlock` does (forceFreeMigrationsLock): the table rewritten as
 * one free row, which also repairs a table with no row or several. Says whether it was held.
 */
export async function forceFreeLock(db: Knex): Promise<boolean> {
  return db.transaction(async (trx) => {
    let rows: Array<{ is_locked: number }>;
    try {
      rows = (await trx(LOCK_TABLE).select('is_locked')) as Array<{ is_locked: number }>;
    } catch (error) {
      if (isMissingTable(error)) return false;
      throw error;
    }
    if (rows.length === 1 && Number(rows[0]!.is_locked) === 0) return false;
    await trx(LOCK_TABLE).del();
    await trx(LOCK_TABLE).insert({ is_locked: 0 });
    return rows.some((row) => Number(row.is_locked) === 1);
  });
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

import type { Knex } from 'knex';
import type { DatabaseLocation } from '../config/urls.js';
import { OperationError, classifyDriverError, driverMessage } from '../errors.js';
import { withKnex } from '../servers/knex.js';
import { engineOf } from '../servers/engines/index.js';
import { InterruptedError, checkpoint } from '../work-scope.js';
import {
  recordIndex,
  type MigrationFile,
  type MigrationModule,
  type TenantMigrationSource,
} from './source.js';
import {
  MigrationLockedError,
  acquireLock,
  forceFreeLock,
  isLocked,
  readRecords,
  releaseLock,
  type MigrationRecord,
} from './bookkeeping.js';
import { MIGRATIONS_TABLE } from './tables.js';

/** One migration (or seeder) that ran, and how long it took. */
export interface StepTiming {
  name: string;
  ms: number;
}

export interface MigrationEvents {
  /** The migrations about to run, in order, decided under the lock. */
  planned?(names: string[]): void;
  /** A migration is about to run. */
  started?(name: string): void;
  /** A migration ran and is recorded. */
  finished?(step: StepTiming): void;
}

/** The database a tenant-level operation works on. */
export interface MigrationTarget {
  tenant: string;
  location: DatabaseLocation;
}

/**
 * Opens one short-lived single-connection knex for a tenant database, runs `work`, and always
 * destroys it. Connection failures become exit-3 errors naming the tenant.
 */
export async function withTenantDb<T>(
  target: MigrationTarget,
  work: (db: Knex) => Promise<T>,
  options: { multipleStatements?: boolean } = {},
): Promise<T> {
  try {
    return await withKnex(target.location, work, { poolMax: 1, ...options });
  } catch (error) {
    throw tenantDbError(error, target);
  }
}

/** A tenant database error as afty reports it: a server problem (exit 3 or 2) or the driver's message, naming the tenant. */
export function tenantDbError(error: unknown, target: MigrationTarget): Error {
  const classified = classifyDriverError(error, {
    target: 'the tenant database',
    tenant: target.tenant,
    credentials: target.location.driver === 'sqlite' ? undefined : target.location.source,
  });
  return classified ?? new OperationError(driverMessage(error), { tenant: target.tenant, cause: error });
}

/**
 * An interrupt stopped the run between two migrations: `applied` are recorded, the lock is
 * free, the rest is still pending.
 */
export class MigrationsInterruptedError extends InterruptedError {
  constructor(
    message: string,
    tenant: string,
    readonly applied: StepTiming[],
  ) {
    super(message, { tenant });
  }
}

/** The migrations a run applied before it failed or was stopped (recorded, not undone). */
export function appliedBefore(error: unknown): StepTiming[] {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof MigrationFailedError || cause instanceof MigrationsInterruptedError)
      return cause.applied;
  }
  return [];
}

/** A migration that failed; `applied` are the ones of this run that are recorded. */
export class MigrationFailedError extends OperationError {
  constructor(
    message: string,
    tenant: string,
    readonly migration: string,
    readonly applied: StepTiming[],
    options: { hint: string; cause: unknown },
  ) {
    super(message, { tenant, ...options });
  }
}

export interface MigrationPlan {
  /** File names, in knex's order. */
  pending: string[];
  /** Recorded in knex_migrations but no longer on disk (under any of its names). */
  missing: string[];
  /**
   * Records naming a migration on disk by another name (no extension, or `.ts` for a built `.js`):
   * renamed to the file name under the lock, so plain knex pointed at this directory reads the
   * tenant as up to date. Only when the file's own name is not recorded too.
   */
  renames: Array<{ from: string; to: string }>;
  records: MigrationRecord[] | undefined;
}

export function planMigrations(
  files: MigrationFile[],
  records: MigrationRecord[] | undefined,
): MigrationPlan {
  const index = recordIndex(files);
  const exact = new Set((records ?? []).map((record) => record.name));
  const applied = new Set<string>();
  const missing: string[] = [];
  const renames: MigrationPlan['renames'] = [];
  for (const record of records ?? []) {
    const file = index.get(record.name);
    if (!file) {
      missing.push(record.name);
      continue;
    }
    if (record.name !== file.name && !exact.has(file.name) && !applied.has(file.name))
      renames.push({ from: record.name, to: file.name });
    applied.add(file.name);
  }
  return {
    pending: files.filter((file) => !applied.has(file.name)).map((file) => file.name),
    missing,
    renames,
    records,
  };
}

/** Renames records to their file names (see MigrationPlan.renames), in one transaction. */
async function renameRecords(trx: Knex | Knex.Transaction, renames: MigrationPlan['renames']): Promise<void> {
  for (const { from, to } of renames) await trx(MIGRATIONS_TABLE).where({ name: from }).update({ name: to });
}

function assertNothingMissing(plan: MigrationPlan, tenant: string): void {
  if (plan.missing.length > 0) {
    throw new OperationError(
      `migration${plan.missing.length === 1 ? '' : 's'} ${plan.missing.join(', ')} ${plan.missing.length === 1 ? 'is' : 'are'} recorded but missing on disk`,
      { tenant, hint: 'restore the files (see afty db status) before migrating' },
    );
  }
}

function failure(
  error: unknown,
  target: MigrationTarget,
  name: string,
  done: StepTiming[],
  direction: 'up' | 'down',
): MigrationFailedError {
  const committedDdl = !engineOf(target.location.driver).transactionalDdl;
  const before = done.length
    ? `; ${done.length === 1 ? '1 earlier migration of this run stays' : `${done.length} earlier migrations of this run stay`} recorded`
    : '';
  const ddl = committedDdl ? '; DDL it already ran is not rolled back (MySQL commits DDL implicitly)' : '';
  return new MigrationFailedError(
    `migration ${name} failed${direction === 'down' ? ' to roll back' : ''}: ${driverMessage(error)}${before}${ddl}`,
    target.tenant,
    name,
    done,
    {
      hint: committedDdl
        ? `check the schema, fix ${name}, then run afty db ${direction === 'up' ? 'migrate' : 'rollback'} -t ${target.tenant} again`
        : `fix ${name}, then run afty db ${direction === 'up' ? 'migrate' : 'rollback'} -t ${target.tenant} again`,
      cause: error,
    },
  );
}

/** The migration lock a run holds; `freed` once a step freed it with its last record. */
interface HeldLock {
  freed: boolean;
}

/**
 * Told when a run takes and frees a tenant's migration lock (the registry records the holder,
 * so a lock left by a killed run can be recognised). A failure here never fails the run.
 */
export interface LockHolderHooks {
  acquired(): Promise<void>;
  released(): Promise<void>;
}

/**
 * Runs `work` holding the tenant's migration lock, and frees it afterwards unless the work's last
 * step did, even when the connection died mid-way (the pool opens a fresh one). Never frees it
 * twice: by then another run may hold it. A lock that cannot be freed is said.
 */
async function withLock<T>(
  db: Knex,
  tenant: string,
  work: (lock: HeldLock) => Promise<T>,
  options: { createTables?: boolean; holder?: LockHolderHooks } = {},
): Promise<T> {
  await acquireLock(db, tenant, options);
  await options.holder?.acquired().catch(() => undefined);
  const lock: HeldLock = { freed: false };
  let result: T;
  try {
    result = await work(lock);
  } catch (error) {
    if (!lock.freed) {
      try {
        await releaseLock(db);
        lock.freed = true;
      } catch (releaseError) {
        if (error instanceof Error) {
          error.message += `; the migration lock is still held (${driverMessage(releaseError)}): free it with afty db unlock -t ${tenant}`;
        }
      }
    }
    if (lock.freed) await options.holder?.released().catch(() => undefined);
    throw error;
  }
  if (!lock.freed) await releaseLock(db);
  await options.holder?.released().catch(() => undefined);
  return result;
}

/** One migration to run in a direction, and the knex_migrations change that records it. */
interface RecordedStep {
  name: string;
  load(): Promise<MigrationModule>;
  record(trx: Knex | Knex.Transaction): Promise<unknown>;
}

/**
 * Runs each step's up() or down() in order, timing it, each in a transaction with its record
 * unless it sets config.transaction false (a crash leaves both or neither, except MySQL DDL,
 * which commits on its own and is reported as such). The last step also frees the lock in that
 * commit: one disk flush fewer per tenant.
 */
async function runSteps(
  db: Knex,
  target: MigrationTarget,
  lock: HeldLock,
  direction: 'up' | 'down',
  steps: RecordedStep[],
  events: MigrationEvents | undefined,
): Promise<StepTiming[]> {
  const done: StepTiming[] = [];
  if (steps.length) events?.planned?.(steps.map((step) => step.name));
  for (const [index, step] of steps.entries()) {
    try {
      checkpoint(step.name);
    } catch (error) {
      if (!(error instanceof InterruptedError)) throw error;
      throw new MigrationsInterruptedError(error.message, target.tenant, done);
    }
    events?.started?.(step.name);
    const started = performance.now();
    const last = index === steps.length - 1;
    try {
      const module = await step.load();
      const run = direction === 'up' ? module.up : module.down!;
      const bookkeeping = async (trx: Knex | Knex.Transaction) => {
        await step.record(trx);
        if (last) await releaseLock(trx);
      };
      if (module.config?.transaction === false) {
        await run.call(module, db);
        await bookkeeping(db);
      } else {
        await db.transaction(async (trx) => {
          await run.call(module, trx);
          await bookkeeping(trx);
        });
      }
      if (last) lock.freed = true;
    } catch (error) {
      throw failure(error, target, step.name, done, direction);
    }
    const timing = { name: step.name, ms: Math.round(performance.now() - started) };
    done.push(timing);
    events?.finished?.(timing);
  }
  return done;
}

export interface MigrateOptions {
  /** Apply at most this many pending migrations. */
  step?: number;
  /** Report what would run without running it. */
  dryRun?: boolean;
  events?: MigrationEvents;
  holder?: LockHolderHooks;
}

export interface MigrateResult {
  applied: StepTiming[];
  /** Pending migrations (with --dry-run: what would run). */
  pending: string[];
  batch: number | null;
}

/**
 * Brings one tenant database up to date. Nothing pending costs one query on one connection and
 * takes no lock (nothing is written). Otherwise the lock is held for the whole run, the list is
 * read again under it (another run may have applied some), and each migration is recorded in
 * knex_migrations, under its file name as plain knex records it, in the same transaction that
 * ran it. Records of afty before 0.2 (no extension) are renamed to the file names first.
 */
export async function migrateTenant(
  target: MigrationTarget,
  source: TenantMigrationSource,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const files = source.list();
  return withTenantDb(target, async (db) => {
    const first = planMigrations(files, await readRecords(db));
    assertNothingMissing(first, target.tenant);
    const limit = (names: string[]) => (options.step ? names.slice(0, options.step) : names);
    if ((first.pending.length === 0 && first.renames.length === 0) || options.dryRun) {
      return { applied: [], pending: limit(first.pending), batch: null };
    }
    const byName = new Map(files.map((file) => [file.name, file]));
    // Load (and validate) before taking the lock: a broken file must not hold it.
    const modules = new Map<string, MigrationModule>();
    for (const name of first.pending) modules.set(name, await source.getMigration(byName.get(name)!));
    return withLock(
      db,
      target.tenant,
      async (lock) => {
        const records = (await readRecords(db)) ?? [];
        const plan = planMigrations(files, records);
        assertNothingMissing(plan, target.tenant);
        const todo = limit(plan.pending);
        const batch = Math.max(0, ...records.map((record) => record.batch)) + 1;
        if (plan.renames.length) {
          await db.transaction(async (trx) => {
            await renameRecords(trx, plan.renames);
            // Nothing to apply: the lock is freed in the same commit.
            if (!todo.length) await releaseLock(trx);
          });
          if (!todo.length) lock.freed = true;
        }
        const applied = await runSteps(
          db,
          target,
          lock,
          'up',
          todo.map((name) => ({
            name,
            load: async () => modules.get(name) ?? source.getMigration(byName.get(name)!),
            record: (trx) => trx(MIGRATIONS_TABLE).insert({ name, batch, migration_time: new Date() }),
          })),
          options.events,
        );
        return { applied, pending: plan.pending.slice(todo.length), batch: todo.length ? batch : null };
      },
      // A database nothing was migrated into yet gets knex's tables first.
      { createTables: !first.records, holder: options.holder },
    );
  });
}

export interface RollbackOptions {
  /** Undo the last `step` migrations instead of the last batch. */
  step?: number;
  /** Say what would be undone; change nothing (no lock taken). */
  dryRun?: boolean;
  /**
   * Refuse to undo any migration of the tenant's first batch: for a tenant migrated once, its
   * last batch is its whole schema. Fleet rollbacks set this unless --include-initial.
   */
  keepFirstBatch?: boolean;
  /**
   * Undo exactly these migrations (what one earlier run applied), newest first, instead of the
   * last batch. Refused when migrations applied after them are still there, unless `allowNewer`.
   */
  only?: { names: string[]; run: string; allowNewer?: boolean };
  events?: MigrationEvents;
  holder?: LockHolderHooks;
}

export interface RollbackResult {
  rolledBack: StepTiming[];
  /** With dryRun: the migrations that would be undone, newest first. */
  wouldRollBack: string[];
}

/** A fleet rollback left this tenant alone: it would have undone the tenant's first batch. */
export class InitialBatchRefusedError extends OperationError {
  readonly fleetStatus = 'skipped' as const;
  constructor(tenant: string, migrations: string[]) {
    super(
      `not rolled back: that would undo its first batch (${migrations.length} migration${migrations.length === 1 ? '' : 's'}, its initial schema: ${migrations.join(', ')})`,
      { tenant, hint: `pass --include-initial to undo it, or roll back this tenant alone with -t ${tenant}` },
    );
  }
}

/** `rollback --run`: migrations applied after the run's are still there. */
export class NewerMigrationsError extends OperationError {
  constructor(tenant: string, run: string, newer: string[]) {
    super(
      `not rolled back: ${newer.length} migration${newer.length === 1 ? ' was' : 's were'} applied after run ${run} (${newer.join(', ')})`,
      { tenant, hint: `roll those back first, or pass --force to undo only what ${run} applied` },
    );
  }
}

/**
 * The records as the migrations they stand for: each named by its file (see recordIndex), or
 * by itself when no file matches.
 */
function byFile(records: MigrationRecord[], source: TenantMigrationSource): MigrationRecord[] {
  return records.map((record) => ({ ...record, name: source.fileOf(record.name)?.name ?? record.name }));
}

/** Each migration once (a record with and one without extension are the same), first kept. */
function once(records: MigrationRecord[]): MigrationRecord[] {
  const seen = new Set<string>();
  return records.filter((record) => !seen.has(record.name) && Boolean(seen.add(record.name)));
}

/**
 * What a rollback undoes, newest first: the last batch, the last `step` migrations, or a run's.
 * `records` are named by file (byFile), and so are a run's names, recorded before 0.2 without
 * extension or since with it.
 */
function rollbackPlan(
  records: MigrationRecord[],
  options: RollbackOptions,
  tenant: string,
  source: TenantMigrationSource,
): MigrationRecord[] {
  if (options.only) {
    const wanted = new Set(options.only.names.map((name) => source.fileOf(name)?.name ?? name));
    const last = records.findLastIndex((record) => wanted.has(record.name));
    if (last < 0) return [];
    const newer = records.slice(last + 1).map((record) => record.name);
    if (newer.length && !options.only.allowNewer)
      throw new NewerMigrationsError(tenant, options.only.run, newer);
    return once(records.filter((record) => wanted.has(record.name)).reverse());
  }
  const lastBatch = Math.max(0, ...records.map((record) => record.batch));
  const todo = (
    options.step ? records.slice(-options.step) : records.filter((record) => record.batch === lastBatch)
  ).reverse();
  if (options.keepFirstBatch && todo.length) {
    const firstBatch = Math.min(...records.map((record) => record.batch));
    const initial = todo.filter((record) => record.batch === firstBatch);
    if (initial.length)
      throw new InitialBatchRefusedError(
        tenant,
        once(initial).map((record) => record.name),
      );
  }
  return once(todo);
}

/** Undoes the last batch, or the last `step` migrations, newest first, under the lock. */
export async function rollbackTenant(
  target: MigrationTarget,
  source: TenantMigrationSource,
  options: RollbackOptions = {},
): Promise<RollbackResult> {
  const byName = new Map(source.list().map((file) => [file.name, file]));
  return withTenantDb(target, async (db) => {
    const first = (await readRecords(db)) ?? [];
    if (!first.length) return { rolledBack: [], wouldRollBack: [] };
    if (options.dryRun) {
      return {
        rolledBack: [],
        wouldRollBack: rollbackPlan(byFile(first, source), options, target.tenant, source).map((r) => r.name),
      };
    }
    return withLock(
      db,
      target.tenant,
      async (lock) => {
        const records = (await readRecords(db)) ?? [];
        const todo = rollbackPlan(byFile(records, source), options, target.tenant, source);
        // Every record of a migration goes with it (with and without extension, if both exist).
        const recordedAs = (name: string) =>
          records
            .filter((record) => (source.fileOf(record.name)?.name ?? record.name) === name)
            .map((record) => record.name);
        const modules = new Map<string, MigrationModule>();
        for (const { name } of todo) {
          const file = byName.get(name);
          if (!file) {
            throw new OperationError(`cannot roll back ${name}: its file is missing on disk`, {
              tenant: target.tenant,
              hint: 'restore the file, then run again',
            });
          }
          const module = await source.getMigration(file);
          if (typeof module.down !== 'function') {
            throw new OperationError(`cannot roll back ${name}: it has no down() function`, {
              tenant: target.tenant,
            });
          }
          modules.set(name, module);
        }
        const rolledBack = await runSteps(
          db,
          target,
          lock,
          'down',
          todo.map(({ name }) => ({
            name,
            load: async () => modules.get(name)!,
            record: (trx) => trx(MIGRATIONS_TABLE).whereIn('name', recordedAs(name)).del(),
          })),
          options.events,
        );
        return { rolledBack, wouldRollBack: [] };
      },
      { holder: options.holder },
    );
  });
}

export type MigrationState = 'applied' | 'pending' | 'missing';

export interface MigrationStatusEntry {
  name: string;
  state: MigrationState;
  batch: number | null;
  appliedAt: string | null;
}

export interface TenantMigrationStatus {
  migrations: MigrationStatusEntry[];
  applied: number;
  pending: number;
  missing: number;
  lastBatch: number | null;
  locked: boolean;
}

/** Every migration of a tenant: applied (batch, when), pending, or recorded but missing on disk. Read-only. */
export async function tenantStatus(
  target: MigrationTarget,
  source: TenantMigrationSource,
): Promise<TenantMigrationStatus> {
  return withTenantDb(target, async (db) => {
    const records = (await readRecords(db)) ?? [];
    const locked = records.length > 0 && (await isLocked(db));
    // By file name: a record without extension, or with .ts for a built .js, is the same migration.
    const recorded = new Map<string, MigrationRecord>();
    for (const record of records) {
      const file = source.fileOf(record.name);
      if (file && !recorded.has(file.name)) recorded.set(file.name, record);
    }
    const migrations: MigrationStatusEntry[] = source.list().map(({ name }) => {
      const record = recorded.get(name);
      return record
        ? { name, state: 'applied', batch: record.batch, appliedAt: record.appliedAt }
        : { name, state: 'pending', batch: null, appliedAt: null };
    });
    for (const record of records) {
      if (!source.fileOf(record.name)) {
        migrations.push({
          name: record.name,
          state: 'missing',
          batch: record.batch,
          appliedAt: record.appliedAt,
        });
      }
    }
    const count = (state: MigrationState) => migrations.filter((entry) => entry.state === state).length;
    return {
      migrations,
      applied: count('applied'),
      pending: count('pending'),
      missing: count('missing'),
      lastBatch: records.length ? Math.max(...records.map((record) => record.batch)) : null,
      locked,
    };
  });
}

/** Frees a tenant's migration lock; says whether it was held. */
export async function unlockTenant(target: MigrationTarget): Promise<{ wasLocked: boolean }> {
  return withTenantDb(target, async (db) => ({ wasLocked: await forceFreeLock(db) }));
}

/**
 * Drops every table and view of the tenant database. Refuses while a migration run holds the
 * lock, and takes it itself so no run starts half-way through.
 */
export async function dropAllRelations(target: MigrationTarget): Promise<{ dropped: number }> {
  return withTenantDb(target, async (db) => {
    if (await readRecords(db)) await acquireLock(db, target.tenant);
    const { introspection } = engineOf(target.location.driver);
    const relations = await introspection.relations(db);
    // One connection (pool max 1), so the session setting covers every DROP.
    await introspection.withoutForeignKeys(db, async () => {
      for (const relation of relations.filter((entry) => entry.view))
        await introspection.dropRelation(db, relation);
      for (const relation of relations.filter((entry) => !entry.view))
        await introspection.dropRelation(db, relation);
    });
    return { dropped: relations.length };
  });
}

export { MigrationLockedError };

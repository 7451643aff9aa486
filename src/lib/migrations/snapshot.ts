import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AftyContext } from '../context.js';
import { InputError, OperationError } from '../errors.js';
import type { DatabaseServer } from '../servers/index.js';
import type { EngineKind } from '../servers/engine.js';
import { engineOf, isEngineKind } from '../servers/engines/index.js';
import { readRecords } from './bookkeeping.js';
import { LOCK_TABLE, MIGRATIONS_TABLE } from './tables.js';
import {
  migrateTenant,
  tenantDbError,
  withTenantDb,
  type MigrateResult,
  type MigrationTarget,
} from './migrator.js';
import { describeData, diffData, insertStatements, readTableRows } from './data.js';
import { describeSchema, diffSchemas } from './schema.js';
import type { TenantMigrationSource } from './source.js';

const HEADER = '-- afty snapshot: ';

export interface SnapshotMeta {
  driver: EngineKind;
  createdAt: string;
  /** The migrations the schema contains, in the order they ran. */
  migrations: string[];
  /** Rows the snapshot inserts, per table (what the migrations wrote); absent in older files. */
  rows?: Record<string, number>;
}

export interface Snapshot extends SnapshotMeta {
  file: string;
  sql: string;
}

/**
 * The snapshot SQL of a migrated database: its schema (knex's tables included), with `rows` the
 * rows of every other non-empty table (in a database just migrated from empty: what the
 * migrations wrote; never a live tenant's data), plus the rows that record which migrations it
 * covers, so loading it equals having run them. The file loads with afty or with the plain
 * client (`mariadb DB < schema.sql`, `sqlite3 FILE < schema.sql`).
 */
export async function dumpSnapshot(
  target: MigrationTarget,
  options: { rows: boolean },
): Promise<{ meta: SnapshotMeta; sql: string }> {
  const driver = target.location.driver;
  const dialect = engineOf(driver).snapshot;
  return withTenantDb(target, async (db) => {
    const records = (await readRecords(db)) ?? [];
    const { tables, rest } = await dialect.statements(db, target.location);
    const data = options.rows ? await readTableRows(db, driver) : [];
    const meta: SnapshotMeta = {
      driver,
      createdAt: new Date().toISOString(),
      migrations: records.map((record) => record.name),
      rows: Object.fromEntries(data.map((table) => [table.table, table.rows.length])),
    };
    // Rows before what the engine keeps apart (SQLite's triggers, PostgreSQL's constraints), so
    // loading them neither fires nor trips what the migrations set up.
    const statements = [...tables, ...insertStatements(db, data, driver), ...rest];
    const { now, quote, literal } = dialect;
    const lines = [
      `${HEADER}${JSON.stringify(meta)}`,
      ...dialect.prologue,
      ...statements.map((statement) => `${statement};`),
    ];
    if (meta.migrations.length) {
      lines.push(
        `INSERT INTO ${quote(MIGRATIONS_TABLE)} (${quote('name')}, ${quote('batch')}, ${quote('migration_time')}) VALUES\n${meta.migrations
          .map((name) => `  (${literal(name)}, 1, ${now})`)
          .join(',\n')};`,
      );
    }
    lines.push(`INSERT INTO ${quote(LOCK_TABLE)} (${quote('is_locked')}) VALUES (0);`);
    lines.push(...dialect.epilogue);
    return { meta, sql: `${lines.join('\n')}\n` };
  });
}

export function writeSnapshot(file: string, sql: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, sql);
}

/** Reads a snapshot file; undefined when there is none. */
export function readSnapshot(file: string): Snapshot | undefined {
  if (!existsSync(file)) return undefined;
  const sql = readFileSync(file, 'utf8');
  const firstLine = sql.slice(0, sql.indexOf('\n'));
  if (!firstLine.startsWith(HEADER)) {
    throw new InputError(`${file} is not an afty snapshot (its first line is not "${HEADER.trim()} {…}")`, {
      hint: 'recreate it with afty db snapshot',
    });
  }
  try {
    const meta = JSON.parse(firstLine.slice(HEADER.length)) as SnapshotMeta;
    if (!isEngineKind(meta.driver) || !Array.isArray(meta.migrations)) throw new Error();
    return { ...meta, file, sql };
  } catch {
    throw new InputError(`${file} has a damaged snapshot header`, {
      hint: 'recreate it with afty db snapshot',
    });
  }
}

/** Loads a snapshot into an empty database in one round trip. */
export async function loadSnapshot(target: MigrationTarget, snapshot: Snapshot): Promise<void> {
  try {
    await engineOf(target.location.driver).snapshot.load(target.location, snapshot.sql);
  } catch (error) {
    throw tenantDbError(error, target);
  }
}

export interface ProvisionResult extends MigrateResult {
  /** Migrations that came with the snapshot (0 when the migrations were replayed). */
  fromSnapshot: number;
}

/**
 * Schema for a new, empty tenant database: the snapshot when there is one for this driver,
 * then only the migrations newer than it; without a usable snapshot, every migration.
 */
export async function provisionSchema(
  target: MigrationTarget,
  source: TenantMigrationSource,
  snapshotFile: string,
  options: Parameters<typeof migrateTenant>[2] = {},
): Promise<ProvisionResult> {
  const snapshot = readSnapshot(snapshotFile);
  const usable = snapshot && snapshot.driver === target.location.driver;
  if (usable) await loadSnapshot(target, snapshot);
  const result = await migrateTenant(target, source, options);
  return { ...result, fromSnapshot: usable ? snapshot.migrations.length : 0 };
}

/** A throw-away database on a server, dropped afterwards whatever happens. */
export async function withScratchDatabase<T>(
  ctx: AftyContext,
  server: DatabaseServer,
  work: (target: MigrationTarget) => Promise<T>,
): Promise<T> {
  // Tenant ids start with a letter, so "<prefix>_snapshot_…" can never be a tenant's database.
  const database = `${ctx.config.tenancy.databasePrefix}_snapshot_${randomBytes(4).toString('hex')}`;
  await server.createDatabase(database);
  try {
    return await work({ tenant: `scratch database ${database}`, location: server.tenantLocation(database) });
  } finally {
    await server.dropDatabase(database);
  }
}

export interface SnapshotCheck {
  file: string;
  driver: EngineKind;
  covered: number;
  /** Migrations on disk newer than the snapshot (new tenants run them after loading it). */
  newer: string[];
  differences: string[];
  ok: boolean;
}

/** A scratch database's schema and the rows outside knex's tables, comparable. */
async function contentsOf(target: MigrationTarget, driver: EngineKind) {
  return withTenantDb(target, async (db) => ({
    schema: await describeSchema(db, driver),
    data: describeData(await readTableRows(db, driver)),
  }));
}

/**
 * Proves the snapshot gives what the migrations give: one scratch database replays every
 * migration, another loads the snapshot and runs the newer ones (what a new tenant gets);
 * tables (and their collation), columns (with charset and collation), indexes, foreign keys and
 * the rows the migrations wrote must match.
 */
export async function checkSnapshot(
  ctx: AftyContext,
  server: DatabaseServer,
  source: TenantMigrationSource,
  snapshotFile: string,
): Promise<SnapshotCheck> {
  const snapshot = readSnapshot(snapshotFile);
  if (!snapshot) {
    throw new InputError(`there is no snapshot at ${snapshotFile}`, {
      hint: 'create one with afty db snapshot',
    });
  }
  if (snapshot.driver !== server.driver) {
    throw new InputError(
      `${snapshotFile} is a ${snapshot.driver} snapshot but server "${server.name}" is ${server.driver}`,
      { hint: 'pass --server with a server of the same kind' },
    );
  }
  // Names recorded with or without extension (files before afty 0.2) name the same files.
  const covered = new Set(snapshot.migrations.map((name) => source.fileOf(name)?.name));
  const base = {
    file: snapshotFile,
    driver: snapshot.driver,
    covered: snapshot.migrations.length,
    newer: source
      .list()
      .map((file) => file.name)
      .filter((name) => !covered.has(name)),
  };
  const gone = snapshot.migrations.filter((name) => !source.fileOf(name));
  if (gone.length) {
    const differences = gone.map((name) => `migration ${name}: in the snapshot but not on disk`);
    return { ...base, differences, ok: false };
  }
  const replayed = await withScratchDatabase(ctx, server, async (target) => {
    await migrateTenant(target, source);
    return contentsOf(target, snapshot.driver);
  });
  const loaded = await withScratchDatabase(ctx, server, async (target) => {
    await provisionSchema(target, source, snapshotFile);
    return contentsOf(target, snapshot.driver);
  });
  const differences = [
    ...diffSchemas(replayed.schema, loaded.schema),
    ...diffData(replayed.data, loaded.data),
  ];
  return { ...base, differences, ok: differences.length === 0 };
}

/** Refuses to snapshot a tenant that is not fully migrated. */
export function assertFullyMigrated(pending: number, missing: number, tenant: string): void {
  if (pending || missing) {
    throw new OperationError(
      `is not fully migrated (${pending} pending, ${missing} missing on disk), so its schema is no snapshot`,
      { tenant, hint: `run afty db migrate -t ${tenant} first, or snapshot without --tenant` },
    );
  }
}

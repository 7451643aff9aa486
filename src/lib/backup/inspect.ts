import type { Knex } from 'knex';
import type { EngineKind } from '../servers/engine.js';
import { engineOf } from '../servers/engines/index.js';
import type { TableSummary } from './archive.js';

/** knex's migration table; present once a tenant has been migrated. */
const MIGRATIONS_TABLE = 'knex_migrations';

/**
 * Tables and views of the database `db` is connected to. `exact` counts rows (scratch checks);
 * otherwise the engine's cheap estimate is used where it has one (MySQL, PostgreSQL) and SQLite
 * (always cheap enough) counts.
 */
export async function describeTables(db: Knex, driver: EngineKind, exact: boolean): Promise<TableSummary[]> {
  const tables: TableSummary[] = [];
  for (const relation of await engineOf(driver).introspection.relations(db)) {
    if (relation.view) {
      tables.push({ name: relation.name, type: 'view', rows: 0, rowsExact: true });
      continue;
    }
    const count = exact || relation.estimate === null;
    const rows = count ? await countRows(db, relation.name) : relation.estimate!;
    tables.push({ name: relation.name, type: 'table', rows, rowsExact: count });
  }
  return tables;
}

async function countRows(db: Knex, table: string): Promise<number> {
  const result = await db(table).count({ rows: '*' });
  return Number(result[0]!.rows);
}

/** Migration names recorded by knex, in the order they ran; none when never migrated. */
export async function appliedMigrations(db: Knex): Promise<string[]> {
  if (!(await db.schema.hasTable(MIGRATIONS_TABLE))) return [];
  const rows = (await db(MIGRATIONS_TABLE).select('name').orderBy('id')) as Array<{ name: string }>;
  return rows.map((row) => row.name);
}

export function databaseVersion(db: Knex, driver: EngineKind): Promise<string> {
  return engineOf(driver).introspection.version(db);
}

export interface TableCheck {
  name: string;
  type: 'table' | 'view';
  expectedRows: number | null;
  restoredRows: number | null;
  ok: boolean;
  problem?: string;
}

/**
 * Whether a restored row count fits the manifest: exact counts must match; MySQL estimates
 * (InnoDB samples pages, PostgreSQL's reltuples) only have to be in the same range.
 */
function rowsMatch(expected: TableSummary, restored: number): boolean {
  if (expected.rowsExact) return expected.rows === restored;
  return Math.abs(restored - expected.rows) <= Math.max(100, expected.rows * 0.5);
}

/** Why a restored table fails its manifest entry, or undefined when it matches. */
function tableProblem(expected: TableSummary, found: TableSummary | undefined): string | undefined {
  if (!found) return 'missing';
  if (found.type !== expected.type) return `restored as a ${found.type}`;
  if (expected.type === 'view' || rowsMatch(expected, found.rows)) return undefined;
  return `${found.rows} rows, manifest says ${expected.rowsExact ? '' : 'about '}${expected.rows}`;
}

/** Compares what was restored (exact counts) with what the manifest recorded, table by table. */
export function compareTables(expected: TableSummary[], restored: TableSummary[]): TableCheck[] {
  const restoredByName = new Map(restored.map((table) => [table.name, table]));
  const rowsOf = (table: TableSummary | undefined) => (table && table.type === 'table' ? table.rows : null);
  const checks: TableCheck[] = expected.map((table) => {
    const found = restoredByName.get(table.name);
    restoredByName.delete(table.name);
    const problem = tableProblem(table, found);
    return {
      name: table.name,
      type: table.type,
      expectedRows: rowsOf(table),
      restoredRows: found?.type === table.type ? rowsOf(found) : null,
      ok: problem === undefined,
      ...(problem ? { problem } : {}),
    };
  });
  for (const extra of restoredByName.values()) {
    checks.push({
      name: extra.name,
      type: extra.type,
      expectedRows: null,
      restoredRows: rowsOf(extra),
      ok: false,
      problem: 'not in the manifest',
    });
  }
  return checks;
}

/** One line naming every table that failed its check, for errors. */
export function describeMismatches(checks: TableCheck[]): string {
  return checks
    .filter((check) => !check.ok)
    .map((check) => `${check.name} (${check.problem})`)
    .join(', ');
}

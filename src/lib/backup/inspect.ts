import type { Knex } from 'knex';
import type { TableSummary } from './archive.js';

/** knex's migration table; present once a tenant has been migrated. */
const MIGRATIONS_TABLE = 'knex_migrations';

/**
 * Tables and views of the database `db` is connected to. `exact` counts rows (scratch checks);
 * otherwise MySQL reports its cheap estimates and SQLite (always cheap enough) counts.
 */
export async function describeTables(
  db: Knex,
  driver: 'mysql' | 'sqlite',
  exact: boolean,
): Promise<TableSummary[]> {
  let listed: Array<{ name: string; type: 'table' | 'view'; estimate: number }>;
  if (driver === 'mysql') {
    const [rows] = (await db.raw(
      'SELECT table_name AS name, table_type AS type, table_rows AS estimate FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name',
    )) as [Array<{ name: string; type: string; estimate: number | string | null }>];
    listed = rows.map((row) => ({
      name: row.name,
      type: row.type === 'VIEW' ? 'view' : 'table',
      estimate: Number(row.estimate ?? 0),
    }));
  } else {
    const rows = (await db.raw(
      "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )) as Array<{ name: string; type: 'table' | 'view' }>;
    listed = rows.map((row) => ({ ...row, estimate: 0 }));
  }
  const count = exact || driver === 'sqlite';
  const tables: TableSummary[] = [];
  for (const table of listed) {
    if (table.type === 'view') {
      tables.push({ name: table.name, type: 'view', rows: 0, rowsExact: true });
      continue;
    }
    const rows = count ? await countRows(db, table.name) : table.estimate;
    tables.push({ name: table.name, type: 'table', rows, rowsExact: count });
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

export async function databaseVersion(db: Knex, driver: 'mysql' | 'sqlite'): Promise<string> {
  if (driver === 'mysql') {
    const [rows] = (await db.raw('SELECT VERSION() AS version')) as [Array<{ version: string }>];
    return rows[0]!.version;
  }
  const rows = (await db.raw('SELECT sqlite_version() AS version')) as Array<{ version: string }>;
  return `SQLite ${rows[0]!.version}`;
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
 * (InnoDB samples pages) only have to be in the same range.
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

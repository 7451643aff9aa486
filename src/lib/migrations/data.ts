import type { Knex } from 'knex';
import type { EngineKind, InsertableColumn } from '../servers/engine.js';
import { engineOf } from '../servers/engines/index.js';
import { LOCK_TABLE, MIGRATIONS_TABLE } from './tables.js';

/** The rows of one table that migrations wrote, with the columns an INSERT can set. */
export interface TableRows {
  table: string;
  /** Insertable columns in table order (generated columns left out: the database computes them). */
  columns: string[];
  /** Columns holding dates or times: compared only as set or null (see describeData). */
  temporal: string[];
  rows: Array<Record<string, unknown>>;
}

const BOOKKEEPING = new Set([MIGRATIONS_TABLE, LOCK_TABLE]);

/** Rows per INSERT: SQLite compiles a multi-row insert as a compound SELECT (at most 500 terms). */
const CHUNK = 100;

/**
 * Every non-empty table's rows except knex's own: after migrating an empty database, exactly
 * what the migrations wrote (bootstrap rows, lookup values).
 */
export async function readTableRows(db: Knex, driver: EngineKind): Promise<TableRows[]> {
  const columns = await engineOf(driver).introspection.insertableColumns(db);
  const byTable = new Map<string, InsertableColumn[]>();
  for (const column of columns) {
    if (BOOKKEEPING.has(column.table)) continue;
    byTable.set(column.table, [...(byTable.get(column.table) ?? []), column]);
  }
  const result: TableRows[] = [];
  for (const [table, info] of byTable) {
    const names = info.map((column) => column.column);
    const rows = (await db(table).select(names)) as Array<Record<string, unknown>>;
    if (rows.length === 0) continue;
    result.push({
      table,
      columns: names,
      temporal: info.filter((column) => column.temporal).map((column) => column.column),
      rows,
    });
  }
  return result;
}

/**
 * INSERT statements for the rows, values escaped by knex for the database's dialect — binary
 * values by the engine (knex writes X'…', which PostgreSQL reads as a bit string, not bytea).
 */
export function insertStatements(db: Knex, tables: TableRows[], driver: EngineKind): string[] {
  const { binary } = engineOf(driver).snapshot;
  const statements: string[] = [];
  for (const { table, rows } of tables) {
    const literal = rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([column, value]) => [
          column,
          Buffer.isBuffer(value) ? db.raw(binary(value.toString('hex'))) : value,
        ]),
      ),
    );
    for (let start = 0; start < literal.length; start += CHUNK)
      statements.push(
        db(table)
          .insert(literal.slice(start, start + CHUNK))
          .toString(),
      );
  }
  return statements;
}

function comparable(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex')}`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * Each table's rows as comparable lines, sorted. Date and time values only count as set or
 * null: a migration writing `now()` gives the replay another time than the snapshot, not drift.
 */
export function describeData(tables: TableRows[]): Record<string, string[]> {
  const shape: Record<string, string[]> = {};
  for (const { table, columns, temporal, rows } of tables) {
    const masked = new Set(temporal);
    shape[table] = rows
      .map((row) =>
        JSON.stringify(
          Object.fromEntries(
            columns.map((column) => {
              const value = row[column];
              return [column, masked.has(column) && value !== null ? '(a time)' : comparable(value)];
            }),
          ),
        ),
      )
      .sort();
  }
  return shape;
}

/** At most this many row lines per table and side, then a count. */
const SHOWN = 5;

/** The rows one side has and the other has not, per table (multiset difference). */
export function diffData(
  expected: Record<string, string[]>,
  actual: Record<string, string[]>,
  actualName = 'the snapshot',
): string[] {
  const differences: string[] = [];
  const minus = (left: string[], right: string[]) => {
    const counts = new Map<string, number>();
    for (const row of right) counts.set(row, (counts.get(row) ?? 0) + 1);
    return left.filter((row) => {
      const left = counts.get(row) ?? 0;
      if (left === 0) return true;
      counts.set(row, left - 1);
      return false;
    });
  };
  const report = (table: string, rows: string[], where: string) => {
    for (const row of rows.slice(0, SHOWN)) differences.push(`table ${table}: row ${row} ${where}`);
    if (rows.length > SHOWN) differences.push(`table ${table}: ${rows.length - SHOWN} more rows ${where}`);
  };
  for (const table of [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort()) {
    const want = expected[table] ?? [];
    const got = actual[table] ?? [];
    report(table, minus(want, got), `missing from ${actualName}`);
    report(table, minus(got, want), `only in ${actualName}`);
  }
  return differences;
}

import type { Knex } from 'knex';
import type { EngineKind } from '../servers/engine.js';
import { engineOf } from '../servers/engines/index.js';
import { LOCK_TABLE, MIGRATIONS_TABLE } from './tables.js';

/**
 * What a snapshot check and the drift check compare: tables (with their collation), columns
 * (with their character set and collation), indexes, foreign keys (and view names).
 */
export interface SchemaShape {
  tables: Record<
    string,
    {
      /** MySQL: the table's default collation (which names its character set); others: null. */
      collation: string | null;
      columns: string[];
      indexes: string[];
      foreignKeys: string[];
    }
  >;
  views: string[];
}

const BOOKKEEPING = new Set([MIGRATIONS_TABLE, LOCK_TABLE]);

export function shapeOf(names: string[]): SchemaShape {
  const tables: SchemaShape['tables'] = {};
  for (const name of names.filter((table) => !BOOKKEEPING.has(table)).sort()) {
    tables[name] = { collation: null, columns: [], indexes: [], foreignKeys: [] };
  }
  return { tables, views: [] };
}

export interface IndexRow {
  t: string;
  name: string;
  unique: boolean;
  c: string;
}

export interface ForeignKeyRow {
  t: string;
  name: string;
  c: string;
  rt: string;
  rc: string;
  onUpdate: string;
  onDelete: string;
}

/** Rows of one multi-column index or key per (table, name), in their column order. */
function groupByTableAndName<R extends { t: string; name: string }>(rows: R[]): R[][] {
  const groups = new Map<string, R[]>();
  for (const row of rows) {
    const key = `${row.t}\0${row.name}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()];
}

export function collectIndexes(shape: SchemaShape, rows: IndexRow[]): void {
  for (const group of groupByTableAndName(rows)) {
    const [first] = group as [IndexRow];
    shape.tables[first.t]?.indexes.push(
      `${first.unique ? 'unique ' : ''}${first.name} (${group.map((row) => row.c).join(', ')})`,
    );
  }
  for (const table of Object.values(shape.tables)) table.indexes.sort();
}

/** Foreign keys are compared by what they do, not by their (generated) names. */
export function collectForeignKeys(shape: SchemaShape, rows: ForeignKeyRow[]): void {
  for (const group of groupByTableAndName(rows)) {
    const [first] = group as [ForeignKeyRow];
    shape.tables[first.t]?.foreignKeys.push(
      `(${group.map((row) => row.c).join(', ')}) → ${first.rt} (${group.map((row) => row.rc).join(', ')}) on update ${first.onUpdate.toLowerCase()} on delete ${first.onDelete.toLowerCase()}`,
    );
  }
  for (const table of Object.values(shape.tables)) table.foreignKeys.sort();
}

/** The comparable shape of a database's schema, knex's bookkeeping tables left out. */
export function describeSchema(db: Knex, driver: EngineKind): Promise<SchemaShape> {
  return engineOf(driver).introspection.shape(db);
}

/**
 * Human-readable differences, `expected` being what the migrations produce; empty when equal.
 * `sides` say what each side is in the lines (default: the migrations and the snapshot).
 */
export function diffSchemas(
  expected: SchemaShape,
  actual: SchemaShape,
  sides: { expected: string; actual: string } = { expected: 'the migrations', actual: 'the snapshot' },
): string[] {
  const differences: string[] = [];
  const names = [...new Set([...Object.keys(expected.tables), ...Object.keys(actual.tables)])].sort();
  for (const name of names) {
    const want = expected.tables[name];
    const got = actual.tables[name];
    if (!got) {
      differences.push(`table ${name}: missing from ${sides.actual}`);
      continue;
    }
    if (!want) {
      differences.push(`table ${name}: only in ${sides.actual}`);
      continue;
    }
    if (want.collation !== got.collation) {
      differences.push(
        `table ${name}: collation ${got.collation ?? 'none'} in ${sides.actual}, ${want.collation ?? 'none'} in ${sides.expected}`,
      );
    }
    for (const part of ['columns', 'indexes', 'foreignKeys'] as const) {
      const label = part === 'foreignKeys' ? 'foreign key' : part === 'indexes' ? 'index' : 'column';
      for (const entry of want[part].filter((item) => !got[part].includes(item))) {
        differences.push(`table ${name}: ${label} ${entry} missing from ${sides.actual}`);
      }
      for (const entry of got[part].filter((item) => !want[part].includes(item))) {
        differences.push(`table ${name}: ${label} ${entry} only in ${sides.actual}`);
      }
    }
  }
  for (const view of expected.views.filter((item) => !actual.views.includes(item))) {
    differences.push(`view ${view}: missing from ${sides.actual}`);
  }
  for (const view of actual.views.filter((item) => !expected.views.includes(item))) {
    differences.push(`view ${view}: only in ${sides.actual}`);
  }
  return differences;
}

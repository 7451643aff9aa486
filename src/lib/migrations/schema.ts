import type { Knex } from 'knex';
import { LOCK_TABLE, MIGRATIONS_TABLE } from './bookkeeping.js';

/**
 * What a snapshot check and the drift check compare: tables (with their collation), columns
 * (with their character set and collation), indexes, foreign keys (and view names).
 */
export interface SchemaShape {
  tables: Record<
    string,
    {
      /** MySQL: the table's default collation (which names its character set); SQLite: null. */
      collation: string | null;
      columns: string[];
      indexes: string[];
      foreignKeys: string[];
    }
  >;
  views: string[];
}

const BOOKKEEPING = new Set([MIGRATIONS_TABLE, LOCK_TABLE]);

function shapeOf(names: string[]): SchemaShape {
  const tables: SchemaShape['tables'] = {};
  for (const name of names.filter((table) => !BOOKKEEPING.has(table)).sort()) {
    tables[name] = { collation: null, columns: [], indexes: [], foreignKeys: [] };
  }
  return { tables, views: [] };
}

async function mysqlShape(db: Knex): Promise<SchemaShape> {
  const select = async <T>(sql: string) => ((await db.raw(sql)) as [T[]])[0];
  const relations = await select<{ name: string; type: string; collation: string | null }>(
    'SELECT TABLE_NAME AS name, TABLE_TYPE AS type, TABLE_COLLATION AS collation FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()',
  );
  const shape = shapeOf(relations.filter((row) => row.type !== 'VIEW').map((row) => row.name));
  for (const relation of relations) {
    const table = shape.tables[relation.name];
    if (table) table.collation = relation.collation;
  }
  shape.views = relations
    .filter((row) => row.type === 'VIEW')
    .map((row) => row.name)
    .sort();
  const columns = await select<{
    t: string;
    c: string;
    type: string;
    nullable: string;
    def: string | null;
    extra: string;
    charset: string | null;
    collation: string | null;
  }>(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS def, EXTRA AS extra, CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION',
  );
  for (const column of columns) {
    // Text columns carry their own character set and collation: a unique key on one that is
    // utf8mb4_general_ci accepts `straße` beside `strasse`, utf8mb4_unicode_ci does not.
    const text = column.collation ? ` character set ${column.charset} collate ${column.collation}` : '';
    shape.tables[column.t]?.columns.push(
      `${column.c} ${column.type}${text}${column.nullable === 'YES' ? ' null' : ' not null'}${column.def === null ? '' : ` default ${column.def}`}${column.extra ? ` ${column.extra}` : ''}`,
    );
  }
  const indexes = await select<{ t: string; name: string; nonUnique: number; c: string }>(
    'SELECT TABLE_NAME AS t, INDEX_NAME AS name, NON_UNIQUE AS nonUnique, COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
  );
  collectIndexes(
    shape,
    indexes.map((row) => ({ ...row, unique: Number(row.nonUnique) === 0 })),
  );
  const keys = await select<ForeignKeyRow>(
    `SELECT k.TABLE_NAME AS t, k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS c, k.REFERENCED_TABLE_NAME AS rt,
       k.REFERENCED_COLUMN_NAME AS rc, r.UPDATE_RULE AS onUpdate, r.DELETE_RULE AS onDelete
     FROM information_schema.KEY_COLUMN_USAGE k
     JOIN information_schema.REFERENTIAL_CONSTRAINTS r
       ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
     WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
     ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
  );
  collectForeignKeys(shape, keys);
  return shape;
}

interface IndexRow {
  t: string;
  name: string;
  unique: boolean;
  c: string;
}

interface ForeignKeyRow {
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

function collectIndexes(shape: SchemaShape, rows: IndexRow[]): void {
  for (const group of groupByTableAndName(rows)) {
    const [first] = group as [IndexRow];
    shape.tables[first.t]?.indexes.push(
      `${first.unique ? 'unique ' : ''}${first.name} (${group.map((row) => row.c).join(', ')})`,
    );
  }
  for (const table of Object.values(shape.tables)) table.indexes.sort();
}

/** Foreign keys are compared by what they do, not by their (generated) names. */
function collectForeignKeys(shape: SchemaShape, rows: ForeignKeyRow[]): void {
  for (const group of groupByTableAndName(rows)) {
    const [first] = group as [ForeignKeyRow];
    shape.tables[first.t]?.foreignKeys.push(
      `(${group.map((row) => row.c).join(', ')}) → ${first.rt} (${group.map((row) => row.rc).join(', ')}) on update ${first.onUpdate.toLowerCase()} on delete ${first.onDelete.toLowerCase()}`,
    );
  }
  for (const table of Object.values(shape.tables)) table.foreignKeys.sort();
}

async function sqliteShape(db: Knex): Promise<SchemaShape> {
  const relations = (await db.raw(
    "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
  )) as Array<{ name: string; type: string }>;
  const shape = shapeOf(relations.filter((row) => row.type === 'table').map((row) => row.name));
  shape.views = relations
    .filter((row) => row.type === 'view')
    .map((row) => row.name)
    .sort();
  const indexRows: IndexRow[] = [];
  const keyRows: ForeignKeyRow[] = [];
  for (const table of Object.keys(shape.tables)) {
    const columns = (await db.raw(
      'SELECT name, type, "notnull" AS required, dflt_value AS def, pk FROM pragma_table_info(?)',
      [table],
    )) as Array<{ name: string; type: string; required: number; def: string | null; pk: number }>;
    shape.tables[table]!.columns = columns.map(
      (column) =>
        `${column.name} ${column.type.toLowerCase()}${column.required ? ' not null' : ' null'}${column.def === null ? '' : ` default ${column.def}`}${column.pk ? ' primary key' : ''}`,
    );
    const indexes = (await db.raw('SELECT name, "unique" AS isUnique, origin FROM pragma_index_list(?)', [
      table,
    ])) as Array<{
      name: string;
      isUnique: number;
      origin: string;
    }>;
    for (const index of indexes) {
      const parts = (await db.raw('SELECT name FROM pragma_index_info(?) ORDER BY seqno', [
        index.name,
      ])) as Array<{
        name: string;
      }>;
      for (const part of parts)
        indexRows.push({ t: table, name: index.name, unique: Boolean(index.isUnique), c: part.name });
    }
    const keys = (await db.raw(
      'SELECT id, "table" AS rt, "from" AS c, "to" AS rc, on_update AS onUpdate, on_delete AS onDelete FROM pragma_foreign_key_list(?) ORDER BY id, seq',
      [table],
    )) as Array<{ id: number; rt: string; c: string; rc: string; onUpdate: string; onDelete: string }>;
    for (const key of keys) keyRows.push({ t: table, name: String(key.id), ...key });
  }
  collectIndexes(shape, indexRows);
  collectForeignKeys(shape, keyRows);
  return shape;
}

/** The comparable shape of a database's schema, knex's bookkeeping tables left out. */
export function describeSchema(db: Knex, driver: 'mysql' | 'sqlite'): Promise<SchemaShape> {
  return driver === 'mysql' ? mysqlShape(db) : sqliteShape(db);
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

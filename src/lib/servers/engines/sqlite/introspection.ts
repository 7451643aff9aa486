import type { Knex } from 'knex';
import {
  collectForeignKeys,
  collectIndexes,
  shapeOf,
  type ForeignKeyRow,
  type IndexRow,
  type SchemaShape,
} from '../../../migrations/schema.js';
import type { InsertableColumn, Introspection, Relation } from '../../engine.js';

async function relations(db: Knex): Promise<Relation[]> {
  const rows = (await db.raw(
    "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
  )) as Array<{ name: string; type: string }>;
  return rows.map((row) => ({ name: row.name, view: row.type === 'view', estimate: null }));
}

async function shape(db: Knex): Promise<SchemaShape> {
  const all = await relations(db);
  const shape = shapeOf(all.filter((relation) => !relation.view).map((relation) => relation.name));
  shape.views = all.filter((relation) => relation.view).map((relation) => relation.name);
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

async function insertableColumns(db: Knex): Promise<InsertableColumn[]> {
  const columns: InsertableColumn[] = [];
  for (const { name, view } of await relations(db)) {
    if (view) continue;
    // hidden: 0 an ordinary column, 2 and 3 generated ones.
    const rows = (await db.raw('SELECT name, type FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid', [
      name,
    ])) as Array<{ name: string; type: string }>;
    for (const row of rows)
      columns.push({ table: name, column: row.name, temporal: /date|time/i.test(row.type) });
  }
  return columns;
}

export const sqliteIntrospection: Introspection = {
  async version(db) {
    const rows = (await db.raw('SELECT sqlite_version() AS version')) as Array<{ version: string }>;
    return `SQLite ${rows[0]!.version}`;
  },
  relations,
  shape,
  insertableColumns,
  async withoutForeignKeys(db, work) {
    await db.raw('PRAGMA foreign_keys = OFF');
    try {
      return await work();
    } finally {
      await db.raw('PRAGMA foreign_keys = ON');
    }
  },
  // SQLite waits its busy timeout (set on every connection), then reports the database locked.
  boundLockWait: async () => async () => {},
  async dropRelation(db, relation) {
    await (relation.view
      ? db.schema.dropViewIfExists(relation.name)
      : db.schema.dropTableIfExists(relation.name));
  },
};

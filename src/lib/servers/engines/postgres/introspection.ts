import type { Knex } from 'knex';
import {
  collectForeignKeys,
  collectIndexes,
  shapeOf,
  type ForeignKeyRow,
  type SchemaShape,
} from '../../../migrations/schema.js';
import type { InsertableColumn, Introspection, Relation } from '../../engine.js';

const select = async <T>(db: Knex, sql: string) => ((await db.raw(sql)) as { rows: T[] }).rows;

/** Relations of the schema tenant work runs in (public, or the tenant's own schema). */
const IN_SCHEMA = 'n.nspname = current_schema()';

const RULES: Record<string, string> = {
  a: 'NO ACTION',
  r: 'RESTRICT',
  c: 'CASCADE',
  n: 'SET NULL',
  d: 'SET DEFAULT',
};

async function relations(db: Knex): Promise<Relation[]> {
  const rows = await select<{ name: string; kind: string; estimate: number }>(
    db,
    `SELECT c.relname AS name, c.relkind AS kind, c.reltuples AS estimate
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${IN_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname`,
  );
  return rows.map((row) => {
    const view = row.kind === 'v' || row.kind === 'm';
    // reltuples is -1 until the table is first vacuumed or analyzed: no estimate, so count.
    const estimate = view || Number(row.estimate) < 0 ? null : Math.round(Number(row.estimate));
    return { name: row.name, view, estimate };
  });
}

async function shape(db: Knex): Promise<SchemaShape> {
  const all = await relations(db);
  const shape = shapeOf(all.filter((relation) => !relation.view).map((relation) => relation.name));
  shape.views = all.filter((relation) => relation.view).map((relation) => relation.name);
  const columns = await select<{
    t: string;
    c: string;
    type: string;
    nullable: string;
    def: string | null;
    collation: string | null;
    identity: string | null;
  }>(
    db,
    `SELECT table_name AS t, column_name AS c, format_type(a.atttypid, a.atttypmod) AS type,
            is_nullable AS nullable, column_default AS def, collation_name AS collation, identity_generation AS identity
     FROM information_schema.columns col
     JOIN pg_attribute a ON a.attrelid = (quote_ident(col.table_schema) || '.' || quote_ident(col.table_name))::regclass
       AND a.attname = col.column_name
     WHERE col.table_schema = current_schema()
     ORDER BY table_name, ordinal_position`,
  );
  for (const column of columns) {
    // A column's own collation (null: the database default) decides what a unique key accepts.
    const collation = column.collation ? ` collate ${column.collation}` : '';
    const identity = column.identity ? ` generated ${column.identity.toLowerCase()} as identity` : '';
    shape.tables[column.t]?.columns.push(
      `${column.c} ${column.type}${collation}${column.nullable === 'YES' ? ' null' : ' not null'}${column.def === null ? '' : ` default ${column.def}`}${identity}`,
    );
  }
  const indexes = await select<{ t: string; name: string; unique: boolean; c: string | null }>(
    db,
    `SELECT t.relname AS t, i.relname AS name, ix.indisunique AS unique, a.attname AS c
     FROM pg_index ix
     JOIN pg_class t ON t.oid = ix.indrelid
     JOIN pg_class i ON i.oid = ix.indexrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
     CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
     WHERE ${IN_SCHEMA}
     ORDER BY t.relname, i.relname, k.ord`,
  );
  collectIndexes(
    shape,
    // An expression index has attnum 0 for its expression columns.
    indexes.map((row) => ({ ...row, c: row.c ?? '(expression)' })),
  );
  const keys = await select<ForeignKeyRow & { upd: string; del: string }>(
    db,
    `SELECT t.relname AS t, con.conname AS name, a.attname AS c, rt.relname AS rt, ra.attname AS rc,
            con.confupdtype AS upd, con.confdeltype AS del
     FROM pg_constraint con
     JOIN pg_class t ON t.oid = con.conrelid
     JOIN pg_class rt ON rt.oid = con.confrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
     CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
     JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refnum
     WHERE con.contype = 'f' AND ${IN_SCHEMA}
     ORDER BY t.relname, con.conname, k.ord`,
  );
  collectForeignKeys(
    shape,
    keys.map((row) => ({ ...row, onUpdate: RULES[row.upd] ?? row.upd, onDelete: RULES[row.del] ?? row.del })),
  );
  return shape;
}

async function insertableColumns(db: Knex): Promise<InsertableColumn[]> {
  const rows = await select<{ t: string; c: string; type: string }>(
    db,
    `SELECT c.table_name AS t, c.column_name AS c, c.data_type AS type
     FROM information_schema.columns c
     JOIN information_schema.tables r ON r.table_schema = c.table_schema AND r.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND r.table_type = 'BASE TABLE'
       AND c.is_generated = 'NEVER' AND c.identity_generation IS DISTINCT FROM 'ALWAYS'
     ORDER BY c.table_name, c.ordinal_position`,
  );
  return rows.map((row) => ({
    table: row.t,
    column: row.c,
    temporal: /^(date|time|timestamp|interval)/.test(row.type),
  }));
}

export const postgresIntrospection: Introspection = {
  async version(db) {
    const [row] = await select<{ server_version: string }>(db, 'SHOW server_version');
    return `PostgreSQL ${row!.server_version}`;
  },
  relations,
  shape,
  insertableColumns,
  // Dropping with CASCADE takes what depends on a relation along, so no check needs to be off.
  withoutForeignKeys: (_db, work) => work(),
  // SET LOCAL ends with the transaction: nothing to undo.
  async boundLockWait(trx, seconds) {
    await trx.raw(`SET LOCAL lock_timeout = '${Number(seconds)}s'`);
    return async () => {};
  },
  async dropRelation(db, relation) {
    const [row] = (
      (await db.raw(
        `SELECT c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${IN_SCHEMA} AND c.relname = ?`,
        [relation.name],
      )) as { rows: Array<{ kind: string }> }
    ).rows;
    if (!row) return;
    const kind = row.kind === 'v' ? 'VIEW' : row.kind === 'm' ? 'MATERIALIZED VIEW' : 'TABLE';
    await db.raw(`DROP ${kind} IF EXISTS ?? CASCADE`, [relation.name]);
  },
};

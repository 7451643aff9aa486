import type { Knex } from 'knex';
import {
  collectForeignKeys,
  collectIndexes,
  shapeOf,
  type ForeignKeyRow,
  type SchemaShape,
} from '../../../migrations/schema.js';
import type { InsertableColumn, Introspection, Relation } from '../../engine.js';

const select = async <T>(db: Knex, sql: string) => ((await db.raw(sql)) as [T[]])[0];

async function relations(db: Knex): Promise<Relation[]> {
  const rows = await select<{ name: string; type: string; estimate: number | string | null }>(
    db,
    'SELECT TABLE_NAME AS name, TABLE_TYPE AS type, TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME',
  );
  return rows.map((row) => ({
    name: row.name,
    view: row.type === 'VIEW',
    estimate: row.type === 'VIEW' ? null : Number(row.estimate ?? 0),
  }));
}

async function shape(db: Knex): Promise<SchemaShape> {
  const relations = await select<{ name: string; type: string; collation: string | null }>(
    db,
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
    db,
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
    db,
    'SELECT TABLE_NAME AS t, INDEX_NAME AS name, NON_UNIQUE AS nonUnique, COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
  );
  collectIndexes(
    shape,
    indexes.map((row) => ({ ...row, unique: Number(row.nonUnique) === 0 })),
  );
  const keys = await select<ForeignKeyRow>(
    db,
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

async function insertableColumns(db: Knex): Promise<InsertableColumn[]> {
  const rows = await select<{ t: string; c: string; type: string }>(
    db,
    `SELECT c.TABLE_NAME AS t, c.COLUMN_NAME AS c, c.DATA_TYPE AS type
     FROM information_schema.COLUMNS c
     JOIN information_schema.TABLES r ON r.TABLE_SCHEMA = c.TABLE_SCHEMA AND r.TABLE_NAME = c.TABLE_NAME
     WHERE c.TABLE_SCHEMA = DATABASE() AND r.TABLE_TYPE = 'BASE TABLE' AND c.EXTRA NOT LIKE '%GENERATED%'
     ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`,
  );
  return rows.map((row) => ({
    table: row.t,
    column: row.c,
    temporal: ['date', 'datetime', 'timestamp', 'time', 'year'].includes(row.type.toLowerCase()),
  }));
}

export const mysqlIntrospection: Introspection = {
  async version(db) {
    const [rows] = (await db.raw('SELECT VERSION() AS version')) as [Array<{ version: string }>];
    return rows[0]!.version;
  },
  relations,
  shape,
  insertableColumns,
  // The setting is per session: the caller's knex has one connection, so it covers all of `work`.
  async withoutForeignKeys(db, work) {
    await db.raw('SET FOREIGN_KEY_CHECKS = 0');
    try {
      return await work();
    } finally {
      await db.raw('SET FOREIGN_KEY_CHECKS = 1');
    }
  },
  async boundLockWait(trx, seconds) {
    await trx.raw('SET SESSION innodb_lock_wait_timeout = ?', [seconds]);
    // The migrations that follow on this connection wait for row locks as the server says.
    return async () => {
      await trx.raw('SET SESSION innodb_lock_wait_timeout = DEFAULT');
    };
  },
  async dropRelation(db, relation) {
    await (relation.view
      ? db.schema.dropViewIfExists(relation.name)
      : db.schema.dropTableIfExists(relation.name));
  },
};

import type { Knex } from 'knex';
import type { SnapshotDialect } from '../../engine.js';

/** CREATE TABLE statements first, then indexes, views and triggers (created after the rows). */
async function statements(db: Knex): Promise<{ tables: string[]; rest: string[] }> {
  const rows = (await db.raw(
    "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, name",
  )) as Array<{ type: string; sql: string }>;
  return {
    tables: rows.filter((row) => row.type === 'table').map((row) => row.sql),
    rest: rows.filter((row) => row.type !== 'table').map((row) => row.sql),
  };
}

export const sqliteSnapshot: SnapshotDialect = {
  statements,
  now: "CAST(strftime('%s', 'now') AS INTEGER) * 1000",
  quote: (name) => `"${name.replace(/"/g, '""')}"`,
  literal: (value) => `'${value.replace(/'/g, "''")}'`,
  binary: (hex) => `X'${hex}'`,
  prologue: ['PRAGMA foreign_keys = OFF;'],
  epilogue: ['PRAGMA foreign_keys = ON;'],
  async load(location, sql) {
    if (location.driver !== 'sqlite') throw new Error('the SQLite snapshot loads into SQLite only');
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(location.filename);
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  },
};

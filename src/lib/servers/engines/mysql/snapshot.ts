import type { Knex } from 'knex';
import type { SnapshotDialect } from '../../engine.js';
import { withKnex } from '../../knex.js';

async function statements(db: Knex): Promise<{ tables: string[]; rest: string[] }> {
  const [[current]] = (await db.raw('SELECT DATABASE() AS name')) as [[{ name: string }]];
  const [relations] = (await db.raw(
    'SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME',
  )) as [Array<{ name: string; type: string }>];
  const tables: string[] = [];
  const views: string[] = [];
  for (const relation of relations) {
    if (relation.type === 'VIEW') {
      const [[row]] = (await db.raw('SHOW CREATE VIEW ??', [relation.name])) as [[Record<string, string>]];
      // No definer (the loading user may not be allowed to name another) and no schema name.
      views.push(
        row!
          ['Create View']!.replace(/^CREATE .*?VIEW/, 'CREATE VIEW')
          .split(`\`${current.name}\`.`)
          .join(''),
      );
    } else {
      const [[row]] = (await db.raw('SHOW CREATE TABLE ??', [relation.name])) as [[Record<string, string>]];
      tables.push(row!['Create Table']!.replace(/ AUTO_INCREMENT=\d+/, ''));
    }
  }
  // Views read tables: MySQL keeps foreign keys inside CREATE TABLE, so rows load with checks off.
  return { tables: [...tables, ...views], rest: [] };
}

export const mysqlSnapshot: SnapshotDialect = {
  statements,
  now: 'NOW()',
  quote: (name) => `\`${name.replace(/`/g, '``')}\``,
  literal: (value) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`,
  binary: (hex) => `X'${hex}'`,
  prologue: ['SET FOREIGN_KEY_CHECKS = 0;'],
  epilogue: ['SET FOREIGN_KEY_CHECKS = 1;'],
  async load(location, sql) {
    await withKnex(location, (db) => db.raw(sql), { poolMax: 1, multipleStatements: true });
  },
};

import type { Knex } from 'knex';
import type { DatabaseLocation, NetworkLocation, SnapshotDialect } from '../../engine.js';
import { withKnex } from '../../knex.js';
import { pgDumpText } from './client-tools.js';
import { quoteIdentifier, quoteLiteral } from './url.js';

/**
 * The statements of one pg_dump section, as plain SQL any connection can run: without psql's
 * meta-commands (`\restrict`), comments, the session settings pg_dump opens with (its empty
 * search_path above all), and the schema qualification (so a snapshot of one tenant's schema
 * loads into another's).
 */
function statementsOf(dump: string, schema: string): string {
  const qualified = new RegExp(
    `(?<![\\w"])(?:${schema.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|${quoteIdentifier(schema).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})\\.`,
    'g',
  );
  return dump
    .split('\n')
    .filter(
      (line) =>
        !line.startsWith('\\') &&
        !line.startsWith('--') &&
        !/^SET \w+ = /.test(line) &&
        !/^SELECT pg_catalog\.set_config\('search_path'/.test(line) &&
        !/^CREATE SCHEMA /.test(line) &&
        !/^ALTER SCHEMA .* OWNER TO /.test(line),
    )
    .join('\n')
    .replace(qualified, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
    .replace(/;$/, '');
}

async function statements(
  db: Knex,
  location: DatabaseLocation,
): Promise<{ tables: string[]; rest: string[] }> {
  const network = location as NetworkLocation;
  const schema = ((await db.raw('SELECT current_schema() AS name')) as { rows: Array<{ name: string }> })
    .rows[0]!.name;
  const args = ['--schema-only', '--no-owner', '--no-privileges', '--no-comments', `--schema=${schema}`];
  const [pre, post] = await Promise.all([
    pgDumpText(network, [...args, '--section=pre-data']),
    pgDumpText(network, [...args, '--section=post-data']),
  ]);
  // Rows are inserted with their ids, which does not move a serial or identity column's
  // sequence (MySQL's AUTO_INCREMENT follows by itself): set each one past the loaded rows.
  const sequences = (
    (await db.raw(
      `SELECT c.relname AS t, a.attname AS c
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
         AND pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) IS NOT NULL
       ORDER BY c.relname, a.attnum`,
    )) as { rows: Array<{ t: string; c: string }> }
  ).rows.map(({ t, c }) => {
    const [table, column] = [quoteIdentifier(t), quoteIdentifier(c)];
    return `SELECT setval(pg_get_serial_sequence(${quoteLiteral(table)}, ${quoteLiteral(c)}), COALESCE((SELECT MAX(${column}) FROM ${table}), 1), (SELECT MAX(${column}) FROM ${table}) IS NOT NULL)`;
  });
  return {
    tables: [statementsOf(pre, schema)].filter(Boolean),
    // Indexes, constraints (foreign keys among them) and triggers: after the rows.
    rest: [statementsOf(post, schema), ...sequences].filter(Boolean),
  };
}

export const postgresSnapshot: SnapshotDialect = {
  statements,
  now: 'now()',
  quote: quoteIdentifier,
  literal: quoteLiteral,
  binary: (hex) => `'\\x${hex}'::bytea`,
  prologue: [],
  epilogue: [],
  // Without bind parameters pg sends one simple query, which may hold many statements.
  async load(location, sql) {
    await withKnex(location, (db) => db.raw(sql), { poolMax: 1 });
  },
};

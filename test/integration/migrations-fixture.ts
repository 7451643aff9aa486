import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Writes migration or seed files (name → source) into a directory of a test project. */
export function writeScripts(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, source] of Object.entries(files)) writeFileSync(path.join(dir, name), source);
}

/** ESM migration creating `table` (with an FK to `parent` when given). */
export function createTableMigration(table: string, parent?: string): string {
  return `export async function up(knex) {
  await knex.schema.createTable('${table}', (t) => {
    t.increments('id');
    t.string('name', 100).notNullable().index();
    ${parent ? `t.integer('${parent}_id').unsigned().references('id').inTable('${parent}').onDelete('CASCADE');` : ''}
  });
}
export async function down(knex) {
  await knex.schema.dropTable('${table}');
}
`;
}

/** CommonJS migration (module.exports) creating `table`. */
export function createTableMigrationCjs(table: string): string {
  return `module.exports = {
  async up(knex) {
    await knex.schema.createTable('${table}', (t) => {
      t.increments('id');
      t.string('label', 50);
    });
  },
  async down(knex) {
    await knex.schema.dropTable('${table}');
  },
};
`;
}

/** A seeder that appends its name to the `seed_log` table (created on demand), to prove order. */
export function loggingSeeder(name: string, commonJs = false): string {
  return `${commonJs ? 'exports.seed = async function (knex) {' : 'export async function seed(knex) {'}
  if (!(await knex.schema.hasTable('seed_log'))) {
    await knex.schema.createTable('seed_log', (t) => {
      t.increments('id');
      t.string('seeder', 50);
    });
  }
  await knex('seed_log').insert({ seeder: '${name}' });
}
`;
}

/** The standard fixture: ESM + CommonJS migrations with FKs, a declaration file (ignored), seeders. */
export function writeStandardFixture(projectDir: string): void {
  // Like an application repository: .js files are ESM; .cjs stays CommonJS.
  writeFileSync(path.join(projectDir, 'package.json'), '{ "type": "module" }\n');
  writeScripts(path.join(projectDir, 'migrations/tenant'), {
    '001_users.js': createTableMigration('users'),
    '002_teams.cjs': createTableMigrationCjs('teams'),
    '003_posts.mjs': createTableMigration('posts', 'users'),
    '003_posts.d.ts': 'export {};\n',
  });
  writeScripts(path.join(projectDir, 'seeds/tenant'), {
    'DatabaseSeeder.js': loggingSeeder('DatabaseSeeder'),
    'Alpha.js': loggingSeeder('Alpha'),
    'Beta.cjs': loggingSeeder('Beta', true),
  });
}

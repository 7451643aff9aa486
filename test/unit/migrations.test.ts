import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  diffSchemas,
  listSeeders,
  pickSeeders,
  readSnapshot,
  splitClasses,
} from '../../src/lib/migrations/index.js';
import { planMigrations } from '../../src/lib/migrations/migrator.js';
import { listScripts, loadFunctions } from '../../src/lib/migrations/scripts.js';
import { TenantMigrationSource } from '../../src/lib/migrations/source.js';

describe('migration and seed files', () => {
  let dir: string;
  const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text);

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'afty-unit-migrations-'));
    write('package.json', '{ "type": "module" }');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists .js .mjs .cjs .ts by name without extension, sorted, ignoring *.d.ts and other files', () => {
    write('002_b.cjs', '');
    write('001_a.js', '');
    write('003_c.mjs', '');
    write('004_d.ts', '');
    write('004_d.d.ts', '');
    write('README.md', '');
    write('schema.sql', '');
    assert.deepEqual(
      listScripts(dir, 'migration').map((file) => file.name),
      ['001_a', '002_b', '003_c', '004_d'],
    );
    assert.deepEqual(listScripts(path.join(dir, 'absent'), 'migration'), []);
  });

  it('refuses two files with the same name (exit 2), since names carry no extension', () => {
    write('001_a.js', '');
    write('001_a.ts', '');
    assert.throws(
      () => listScripts(dir, 'migration'),
      (error: Error & { exitCode?: number }) =>
        error.exitCode === 2 && /001_a exists twice/.test(error.message),
    );
  });

  it('loads ESM and CommonJS (module.exports and exports.x) migrations, once per process', async () => {
    write(
      '001_esm.js',
      'globalThis.aftyLoads = (globalThis.aftyLoads ?? 0) + 1;\nexport async function up() { return "esm"; }\n',
    );
    write('002_cjs.cjs', 'module.exports = { async up() { return "cjs"; }, async down() {} };\n');
    write('003_exports.cjs', 'exports.up = async () => "exports";\n');
    const source = new TenantMigrationSource(dir);
    const results = [];
    for (const file of await source.getMigrations()) {
      assert.equal(source.getMigrationName(file), file.name);
      results.push(await (await source.getMigration(file)).up({} as never));
    }
    assert.deepEqual(results, ['esm', 'cjs', 'exports']);
    await source.getMigration(source.list()[0]!);
    await new TenantMigrationSource(dir).getMigration(source.list()[0]!);
    assert.equal((globalThis as { aftyLoads?: number }).aftyLoads, 1);
  });

  it('a migration without up() is a clear error naming the file', async () => {
    write('001_bad.js', 'export const nothing = 1;\n');
    const [file] = listScripts(dir, 'migration');
    await assert.rejects(
      loadFunctions(file!, 'migration', ['up']),
      /migration 001_bad does not export a up\(\) function/,
    );
  });

  it('plans pending and missing migrations', () => {
    const files = ['a', 'b', 'c'].map((name) => ({ name, file: name }));
    const plan = planMigrations(files, [
      { name: 'a', batch: 1, appliedAt: null },
      { name: 'gone', batch: 1, appliedAt: null },
    ]);
    assert.deepEqual(plan.pending, ['b', 'c']);
    assert.deepEqual(plan.missing, ['gone']);
    assert.deepEqual(planMigrations(files, undefined).pending, ['a', 'b', 'c']);
  });

  it('seeders: default first; --class keeps the given order; unknown lists what exists', () => {
    for (const name of ['Zeta.js', 'Alpha.cjs', 'DatabaseSeeder.js']) write(name, '');
    const seeders = listSeeders(dir);
    assert.deepEqual(
      seeders.map((seeder) => seeder.name),
      ['DatabaseSeeder', 'Alpha', 'Zeta'],
    );
    assert.deepEqual(
      pickSeeders(seeders, ['Zeta', 'Alpha.cjs', 'Zeta'], dir).map((seeder) => seeder.name),
      ['Zeta', 'Alpha'],
    );
    assert.throws(
      () => pickSeeders(seeders, ['Nope'], dir),
      (error: Error & { exitCode?: number; hint?: string }) =>
        error.exitCode === 2 && error.hint === 'available: DatabaseSeeder, Alpha, Zeta',
    );
    assert.deepEqual(splitClasses(['B,A', ' C ']), ['B', 'A', 'C']);
    assert.equal(splitClasses(undefined), undefined);
  });
});

describe('schema snapshot', () => {
  it('diffs tables, columns, indexes and foreign keys', () => {
    const base = {
      tables: {
        users: { columns: ['id int'], indexes: ['PRIMARY (id)'], foreignKeys: [] as string[] },
        posts: { columns: ['id int'], indexes: [], foreignKeys: ['(user_id) → users (id)'] },
      },
      views: ['v'],
    };
    assert.deepEqual(diffSchemas(base, structuredClone(base)), []);
    const changed = structuredClone(base);
    changed.tables.users.columns.push('email varchar(10)');
    changed.tables.posts.foreignKeys = [];
    delete (changed.tables as Record<string, unknown>).users;
    changed.tables = {
      ...changed.tables,
      extra: { columns: [], indexes: [], foreignKeys: [] },
    } as typeof changed.tables;
    assert.deepEqual(diffSchemas(base, changed), [
      'table extra: only in the snapshot',
      'table posts: foreign key (user_id) → users (id) missing from the snapshot',
      'table users: missing from the snapshot',
    ]);
  });

  it('refuses a file that is not an afty snapshot (exit 2)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'afty-unit-snapshot-'));
    try {
      const file = path.join(dir, 'schema.sql');
      assert.equal(readSnapshot(file), undefined);
      writeFileSync(file, 'CREATE TABLE x (id int);\n');
      assert.throws(
        () => readSnapshot(file),
        (error: Error & { exitCode?: number }) => error.exitCode === 2,
      );
      writeFileSync(file, '-- afty snapshot: {"driver":"oracle"}\n');
      assert.throws(() => readSnapshot(file), /damaged snapshot header/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

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
import { describeData, diffData } from '../../src/lib/migrations/data.js';
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

  it('refuses two files with the same name without extension (exit 2): a .ts and its built .js are one migration', () => {
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
    const files = ['a.js', 'b.js', 'c.js'].map((name) => ({ name, stem: name.slice(0, -3), file: name }));
    const plan = planMigrations(files, [
      { name: 'a.js', batch: 1, appliedAt: null },
      { name: 'gone.js', batch: 1, appliedAt: null },
    ]);
    assert.deepEqual(plan.pending, ['b.js', 'c.js']);
    assert.deepEqual(plan.missing, ['gone.js']);
    assert.deepEqual(plan.renames, []);
    assert.deepEqual(planMigrations(files, undefined).pending, ['a.js', 'b.js', 'c.js']);
  });

  it('matches records without extension (afty before 0.2) or with another script extension, and renames them to the file name', () => {
    const file = (name: string, stem: string) => ({ name, stem, file: name });
    const files = [file('001_a.js', '001_a'), file('002_b.cjs', '002_b'), file('003_c.js', '003_c')];
    const record = (name: string) => ({ name, batch: 1, appliedAt: null });
    const plan = planMigrations(files, [record('001_a'), record('002_b.cjs'), record('003_c.ts')]);
    assert.deepEqual(plan.pending, []);
    assert.deepEqual(plan.missing, []);
    assert.deepEqual(plan.renames, [
      { from: '001_a', to: '001_a.js' },
      { from: '003_c.ts', to: '003_c.js' },
    ]);
    // Both spellings recorded: applied once, nothing renamed onto an existing name.
    const both = planMigrations(files, [record('001_a'), record('001_a.js')]);
    assert.deepEqual(both.pending, ['002_b.cjs', '003_c.js']);
    assert.deepEqual(both.renames, []);
    // Another stem is another migration.
    assert.deepEqual(planMigrations(files, [record('001_a.x')]).missing, ['001_a.x']);
  });

  it('lists migrations under their file names, sorted as knex sorts them (extension included)', () => {
    write('001_a.js', '');
    write('001_a-b.cjs', '');
    write('002_c.mjs', '');
    write('002_c.d.ts', '');
    const source = new TenantMigrationSource(dir);
    // '-' sorts before '.', so knex runs 001_a-b.cjs first.
    assert.deepEqual(
      source.list().map((entry) => entry.name),
      ['001_a-b.cjs', '001_a.js', '002_c.mjs'],
    );
    assert.equal(source.fileOf('001_a')?.name, '001_a.js');
    assert.equal(source.fileOf('002_c.ts')?.name, '002_c.mjs');
    assert.equal(source.fileOf('003_d.js'), undefined);
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
        users: {
          collation: 'utf8mb4_unicode_ci' as string | null,
          columns: ['id int'],
          indexes: ['PRIMARY (id)'],
          foreignKeys: [] as string[],
        },
        posts: {
          collation: 'utf8mb4_unicode_ci' as string | null,
          columns: ['id int'],
          indexes: [],
          foreignKeys: ['(user_id) → users (id)'],
        },
      },
      views: ['v'],
    };
    assert.deepEqual(diffSchemas(base, structuredClone(base)), []);
    const changed = structuredClone(base);
    changed.tables.users.columns.push('email varchar(10)');
    changed.tables.posts.foreignKeys = [];
    changed.tables.posts.collation = 'utf8mb4_general_ci';
    delete (changed.tables as Record<string, unknown>).users;
    changed.tables = {
      ...changed.tables,
      extra: { collation: null, columns: [], indexes: [], foreignKeys: [] },
    } as typeof changed.tables;
    assert.deepEqual(diffSchemas(base, changed), [
      'table extra: only in the snapshot',
      'table posts: collation utf8mb4_general_ci in the snapshot, utf8mb4_unicode_ci in the migrations',
      'table posts: foreign key (user_id) → users (id) missing from the snapshot',
      'table users: missing from the snapshot',
    ]);
  });

  it('diffs the rows migrations wrote, as a multiset, a few lines per table', () => {
    const rows = (...names: string[]) => names.map((name) => JSON.stringify({ name }));
    assert.deepEqual(diffData({ roles: rows('a', 'b') }, { roles: rows('b', 'a') }), []);
    assert.deepEqual(diffData({ roles: rows('a', 'a') }, { roles: rows('a'), extra: rows('x') }), [
      'table extra: row {"name":"x"} only in the snapshot',
      'table roles: row {"name":"a"} missing from the snapshot',
    ]);
    const many = rows(...'abcdefg'.split(''));
    assert.deepEqual(diffData({ t: many }, {}).slice(-1), ['table t: 2 more rows missing from the snapshot']);
    // Times only count as set or null: a migration writing now() is not drift.
    const at = (time: Date | null) =>
      describeData([{ table: 't', columns: ['id', 'at'], temporal: ['at'], rows: [{ id: 1, at: time }] }]);
    assert.deepEqual(at(new Date(1)), at(new Date(2)));
    assert.notDeepEqual(at(new Date(1)), at(null));
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

import type { Knex } from 'knex';
import path from 'node:path';
import { listScripts, loadFunctions } from './scripts.js';

export interface MigrationModule {
  up(knex: Knex): Promise<unknown>;
  down?(knex: Knex): Promise<unknown>;
  /** knex's per-migration option: `{ transaction: false }` runs it outside a transaction. */
  config?: { transaction?: boolean };
}

/** One migration file. */
export interface MigrationFile {
  /** The file name with its extension: what knex's own file source records in knex_migrations. */
  name: string;
  /** The name without extension (what afty recorded before 0.2), unique in the directory. */
  stem: string;
  file: string;
}

/** The script extensions afty loads; a record with any of them (or none) names the same migration. */
const EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts'];

/**
 * Which file each recorded name stands for: its exact file name, or the same stem with another
 * script extension (`.ts` in development, `.js` after a build) or none (afty before 0.2). Exact
 * names win, so `a.ts.js` and `a.ts` on disk each keep their own record.
 */
export function recordIndex(files: MigrationFile[]): Map<string, MigrationFile> {
  const index = new Map<string, MigrationFile>();
  for (const file of files) {
    index.set(file.stem, file);
    for (const extension of EXTENSIONS) index.set(`${file.stem}${extension}`, file);
  }
  for (const file of files) index.set(file.name, file);
  return index;
}

/**
 * The tenant migrations of one directory (absolute, resolved against the config file), as a
 * knex MigrationSource named as knex's default file source names them (file name with
 * extension, sorted by it), so plain knex and afty read each other's records. `*.d.ts` ignored,
 * CommonJS and ESM, each module imported once per process. Listing never imports a module, so a
 * run with nothing pending costs a directory read.
 */
export class TenantMigrationSource implements Knex.MigrationSource<MigrationFile> {
  private files?: MigrationFile[];
  private index?: Map<string, MigrationFile>;

  /** `requiredBy`: the config key that set the directory, which must then exist. */
  constructor(
    readonly directory: string,
    private readonly requiredBy?: string,
  ) {}

  /** The migration files, read once per source (one source per run, so a run sees one list). */
  list(): MigrationFile[] {
    this.files ??= listScripts(this.directory, 'migration', this.requiredBy)
      .map((script) => ({ name: path.basename(script.file), stem: script.name, file: script.file }))
      // knex sorts by file name (lodash sortBy: code unit order), extension included.
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return this.files;
  }

  /** The file a recorded name stands for (see recordIndex); undefined when it is not on disk. */
  fileOf(recorded: string): MigrationFile | undefined {
    this.index ??= recordIndex(this.list());
    return this.index.get(recorded);
  }

  async getMigrations(): Promise<MigrationFile[]> {
    return this.list();
  }

  getMigrationName(migration: MigrationFile): string {
    return migration.name;
  }

  async getMigration(migration: MigrationFile): Promise<MigrationModule> {
    return (await loadFunctions(migration, 'migration', ['up'])) as unknown as MigrationModule;
  }
}

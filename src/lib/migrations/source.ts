import type { Knex } from 'knex';
import { listScripts, loadFunctions, type ScriptFile } from './scripts.js';

export interface MigrationModule {
  up(knex: Knex): Promise<unknown>;
  down?(knex: Knex): Promise<unknown>;
  /** knex's per-migration option: `{ transaction: false }` runs it outside a transaction. */
  config?: { transaction?: boolean };
}

/**
 * The tenant migrations of one directory (absolute, resolved against the config file), as a
 * knex MigrationSource: names without extension, `*.d.ts` ignored, CommonJS and ESM, each
 * module imported once per process. Listing never imports a module, so a run with nothing
 * pending costs a directory read.
 */
export class TenantMigrationSource implements Knex.MigrationSource<ScriptFile> {
  private files?: ScriptFile[];

  /** `requiredBy`: the config key that set the directory, which must then exist. */
  constructor(
    readonly directory: string,
    private readonly requiredBy?: string,
  ) {}

  /** The migration files, read once per source (one source per run, so a run sees one list). */
  list(): ScriptFile[] {
    this.files ??= listScripts(this.directory, 'migration', this.requiredBy);
    return this.files;
  }

  async getMigrations(): Promise<ScriptFile[]> {
    return this.list();
  }

  getMigrationName(migration: ScriptFile): string {
    return migration.name;
  }

  async getMigration(migration: ScriptFile): Promise<MigrationModule> {
    return (await loadFunctions(migration, 'migration', ['up'])) as unknown as MigrationModule;
  }
}

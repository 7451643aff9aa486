import type { Knex } from 'knex';
import type { DatabaseServer } from '../servers/index.js';
import { withKnex } from '../servers/knex.js';
import type { StepHooks } from '../tenants/saga.js';
import type { BackupEntry, TableSummary, WrittenArchive } from './archive.js';

/** What a dump produced: the archive's bytes plus what the manifest records about the data. */
export interface DumpResult {
  written: WrittenArchive;
  tool: string;
  serverVersion: string;
  tables: TableSummary[];
  migrations: string[];
}

export interface SwapHooks extends StepHooks {
  /** Saves what recovery needs (journal.ts); called before the swap changes anything. */
  journal?(plan: unknown): Promise<void>;
}

/** The per-engine half of backups: dump to an archive, load one into a scratch database, swap. */
export interface BackupDriver {
  /** Streams the database into `temporaryPath`; the caller publishes it. */
  dump(database: string, temporaryPath: string, compress: boolean): Promise<DumpResult>;
  /** Loads the archive into the (new) scratch database and returns its tables with exact counts. */
  load(entry: BackupEntry, scratch: string): Promise<TableSummary[]>;
  /**
   * Replaces the contents of `database` with those of `scratch`, moving the current contents to
   * `safety`. All or nothing: on failure `database` is as it was.
   */
  swap(database: string, scratch: string, safety: string, hooks?: SwapHooks): Promise<void>;
  /**
   * Ends a swap that was interrupted (a killed process): back to the tenant's previous data when
   * its tables had not moved yet, else forward to the restored data. `plan` is what swap gave
   * hooks.journal (undefined when it was killed before).
   */
  recover(
    database: string,
    scratch: string,
    safety: string,
    plan: unknown,
  ): Promise<'rolled back' | 'finished'>;
  /** Removes a scratch database (no error when it does not exist). */
  drop(scratch: string): Promise<void>;
  /** Existing safety copies of `database` (names). */
  safetyCopies(database: string): Promise<string[]>;
}

/** Runs `use` with a knex connected to one database as the server's admin user. */
export function withDatabase<T>(
  server: DatabaseServer,
  database: string,
  use: (db: Knex) => Promise<T>,
): Promise<T> {
  return withKnex(server.tenantLocation(database), use, { connectTimeoutMs: 10_000 });
}

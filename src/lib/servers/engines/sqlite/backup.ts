import { constants as fsConstants, createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, link, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { openArchive, writeArchiveStream, type BackupEntry } from '../../../backup/archive.js';
import { withDatabase, type BackupDriver } from '../../../backup/driver.js';
import { appliedMigrations, databaseVersion, describeTables } from '../../../backup/inspect.js';
import { SAFETY_MARK } from '../../../backup/naming.js';
import { OperationError, driverMessage } from '../../../errors.js';
import { runSteps } from '../../../tenants/saga.js';
import { withKnex } from '../../knex.js';
import type { SqliteServer } from './server.js';

/**
 * Folds the write-ahead log into the main file and leaves rollback-journal mode, so the file
 * alone is the whole database and can be moved. Fails (nothing changed) while another
 * connection holds the database.
 */
async function detachJournal(file: string): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file, { fileMustExist: true, timeout: 5000 });
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = DELETE');
  } catch (error) {
    throw new OperationError(`cannot take over ${file}: ${driverMessage(error)}`, {
      hint: 'stop whatever has the tenant database open, then retry',
      cause: error,
    });
  } finally {
    db.close();
  }
}

/** What recovery needs to tell a finished swap from an undone one. */
interface SqliteSwapPlan {
  hadCurrent: boolean;
}

export function sqliteBackupDriver(server: SqliteServer): BackupDriver {
  return {
    async dump(database, temporaryPath, compress) {
      const { default: Database } = await import('better-sqlite3');
      const source = server.fileOf(database);
      if (!existsSync(source)) throw new OperationError(`database file ${source} does not exist`);
      // The online backup API gives a consistent copy while the tenant keeps writing.
      const snapshot = `${temporaryPath}.sqlite`;
      try {
        const db = new Database(source, { readonly: true, fileMustExist: true });
        try {
          await db.backup(snapshot);
        } finally {
          db.close();
        }
        const facts = await withKnex({ driver: 'sqlite', filename: snapshot }, async (db) => ({
          serverVersion: await databaseVersion(db, 'sqlite'),
          tables: await describeTables(db, 'sqlite', true),
          migrations: await appliedMigrations(db),
        }));
        await detachJournal(snapshot);
        const written = await writeArchiveStream(createReadStream(snapshot), temporaryPath, compress);
        return { written, tool: 'sqlite online backup', ...facts };
      } finally {
        for (const suffix of ['', '-wal', '-shm', '-journal'])
          await rm(`${snapshot}${suffix}`, { force: true });
      }
    },

    async load(entry: BackupEntry, scratch: string) {
      const file = server.fileOf(scratch);
      try {
        await pipeline(await openArchive(entry), createWriteStream(file, { flags: 'wx', mode: 0o600 }));
      } catch (error) {
        throw new OperationError(`cannot read archive ${entry.path}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      return withDatabase(server, scratch, async (db) => {
        const [check] = (await db.raw('PRAGMA quick_check')) as Array<{ quick_check: string }>;
        if (check?.quick_check !== 'ok') {
          throw new OperationError(`the restored database is damaged: ${check?.quick_check ?? 'no answer'}`);
        }
        return describeTables(db, 'sqlite', true);
      });
    },

    async swap(database, scratch, safety, hooks) {
      const target = server.fileOf(database);
      const incoming = server.fileOf(scratch);
      const kept = server.fileOf(safety);
      await detachJournal(incoming);
      const hasCurrent = existsSync(target);
      if (hasCurrent) {
        await detachJournal(target);
        // The restored file takes over the current one's permissions (the app may run as another user).
        await chmod(incoming, (await stat(target)).mode & 0o777);
      }
      await hooks?.journal?.({ hadCurrent: hasCurrent } satisfies SqliteSwapPlan);
      await runSteps(
        [
          {
            name: 'safety copy',
            // A hard link keeps the current file under the safety name without copying it.
            run: async () => {
              if (!hasCurrent) return;
              await link(target, kept).catch((error: NodeJS.ErrnoException) => {
                if (error.code === 'EEXIST') throw error;
                return copyFile(target, kept, fsConstants.COPYFILE_EXCL);
              });
            },
            undo: () => rm(kept, { force: true }),
          },
          {
            // rename(2) replaces the file atomically: readers see the old or the new database.
            name: 'swap file',
            run: () => rename(incoming, target),
            undo: () => (hasCurrent ? rename(kept, target) : rm(target)),
          },
        ],
        hooks,
      );
    },

    /**
     * The rename is the swap. While the restored file is still under the scratch name it did not
     * happen; after it, the previous file is the safety copy (or there was none). An undone swap
     * moved the safety copy back (or removed the restored file), which reads as rolled back too.
     */
    async recover(database, scratch, safety, plan) {
      const swap = plan as SqliteSwapPlan | undefined;
      if (existsSync(server.fileOf(scratch)) || !swap) {
        await rm(server.fileOf(safety), { force: true });
        return 'rolled back';
      }
      const swapped = swap.hadCurrent
        ? existsSync(server.fileOf(safety))
        : existsSync(server.fileOf(database));
      return swapped ? 'finished' : 'rolled back';
    },

    drop: (scratch) => server.dropDatabase(scratch),

    safetyCopies: (database) => server.listDatabases(`${database}${SAFETY_MARK}`),
  };
}

import type { EngineKind } from '../servers/engine.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tenantBackupDirectory } from './archive.js';

/**
 * A restore in progress, written next to the tenant's backups before the scratch database is
 * created and updated before the swap changes anything, so that a killed restore can be brought
 * to an end by the next `backup restore` or `afty diagnose --fix`: rolled back when the tables had
 * not moved yet, finished when they had. Removed once the restore has ended either way.
 */
export interface RestoreJournal {
  format: 1;
  pid: number;
  host: string;
  startedAt: string;
  tenant: string;
  server: string;
  driver: EngineKind;
  database: string;
  scratch: string;
  safety: string;
  archive: string;
  /** `load`: nothing of the tenant changed yet; `swap`: the driver may have started to swap. */
  phase: 'load' | 'swap';
  /** What the driver's recovery needs, saved by its swap before the first change. */
  swap?: unknown;
}

export const JOURNAL_FILE = '.restore-journal.json';

export function journalPath(backupDirectory: string, tenant: string): string {
  return path.join(tenantBackupDirectory(backupDirectory, tenant), JOURNAL_FILE);
}

/** Replaces the journal atomically (write aside, rename), so a kill never leaves half a journal. */
export async function writeJournal(file: string, journal: object): Promise<void> {
  const temporary = `${file}.${randomBytes(4).toString('hex')}.partial`;
  await writeFile(temporary, `${JSON.stringify(journal, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}

export async function readJournal<T = RestoreJournal>(file: string): Promise<T | undefined> {
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

export async function removeJournal(file: string): Promise<void> {
  await rm(file, { force: true });
}

export function newJournal(fields: Omit<RestoreJournal, 'format' | 'pid' | 'host' | 'startedAt' | 'phase'>) {
  return {
    format: 1,
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    phase: 'load',
    ...fields,
  } satisfies RestoreJournal as RestoreJournal;
}

/** True when the process that wrote the journal still runs (same host, process alive). */
export function journalOwnerRunning(journal: { pid: number; host: string }): boolean {
  if (journal.host !== os.hostname() || journal.pid === process.pid) return false;
  try {
    process.kill(journal.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Journals in every tenant folder of the backup directory. */
export async function pendingJournals(
  backupDirectory: string,
): Promise<Array<{ file: string; journal: RestoreJournal }>> {
  if (!existsSync(backupDirectory)) return [];
  const found: Array<{ file: string; journal: RestoreJournal }> = [];
  for (const entry of await readdir(backupDirectory, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const file = path.join(backupDirectory, entry.name, JOURNAL_FILE);
    const journal = await readJournal(file);
    if (journal) found.push({ file, journal });
  }
  return found;
}

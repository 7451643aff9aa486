import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { AftyContext } from '../context.js';
import { InputError, OperationError, errorMessage } from '../errors.js';
import type { TenantRecord } from '../registry/index.js';
import type { StepHooks } from '../tenants/saga.js';
import type { DatabaseServer } from '../servers/index.js';
import {
  archiveExtension,
  assertChecksum,
  backupWriteError,
  backupTimestamp,
  ensureDirectory,
  MANIFEST_FORMAT,
  partialPath,
  publishBackup,
  tenantBackupDirectory,
  type BackupEntry,
} from './archive.js';
import type { BackupDriver } from './driver.js';
import { backupDriver } from './drivers.js';
import { engineOf } from '../servers/engines/index.js';
import { findTool } from './tools.js';
import { RESTORE_SCRATCH_MARK, VERIFY_SCRATCH_MARK, safetyCopyName, scratchName } from './naming.js';
import { compareTables, describeMismatches, type TableCheck } from './inspect.js';
import {
  journalOwnerRunning,
  journalPath,
  newJournal,
  readJournal,
  removeJournal,
  writeJournal,
} from './journal.js';
import { stepMarker } from '../step-marker.js';

export {
  backupTenants,
  latestBackup,
  listBackups,
  readBackup,
  parseBackupTimestamp,
  type BackupEntry,
  type BackupManifest,
  type TableSummary,
} from './archive.js';
export type { TableCheck } from './inspect.js';
export { backupDriver } from './drivers.js';
export { safetyCopyDate } from './naming.js';
export { pruneBackups, parseAge, type PruneOptions, type PruneResult } from './prune.js';
export { pendingJournals, journalOwnerRunning } from './journal.js';

/**
 * Fails with exit 3 before any work starts when a server's engine needs a client tool (MySQL's
 * mariadb-dump to back up and mariadb to restore or verify, PostgreSQL's pg_dump / pg_restore)
 * that is not installed.
 */
export async function assertClientTools(
  ctx: AftyContext,
  servers: string[],
  use: 'dump' | 'load',
): Promise<void> {
  const kinds = new Set(servers.map((name) => ctx.servers.get(name).driver));
  for (const kind of kinds) {
    const tools = engineOf(kind).backupTools;
    if (tools) await findTool(tools[use], tools.installHint);
  }
}

export interface CreateBackupOptions {
  compress: boolean;
  aftyVersion: string;
}

/**
 * Dumps the tenant's database to `<backup dir>/<tenant>/<UTC timestamp>.sql.gz` (SQLite:
 * `.sqlite.gz`) plus its manifest. Until both are complete they have temporary names, so a
 * failed or killed dump leaves nothing that looks like a backup.
 */
export async function createBackup(
  ctx: AftyContext,
  tenant: TenantRecord,
  options: CreateBackupOptions,
): Promise<BackupEntry> {
  const server = ctx.servers.get(tenant.server);
  const directory = tenantBackupDirectory(ctx.config.backup.directory, tenant.id);
  await ensureDirectory(directory);
  const started = new Date();
  const file = `${backupTimestamp(started)}${archiveExtension(server.driver, options.compress)}`;
  const temporary = partialPath(path.join(directory, file));
  try {
    const dumped = await backupDriver(server).dump(tenant.database, temporary, options.compress);
    return await publishBackup(
      temporary,
      {
        format: MANIFEST_FORMAT,
        tenant: tenant.id,
        database: tenant.database,
        server: tenant.server,
        driver: server.driver,
        file,
        compressed: options.compress,
        createdAt: started.toISOString(),
        sha256: dumped.written.sha256,
        bytes: dumped.written.bytes,
        durationMs: Math.round(Date.now() - started.getTime()),
        serverVersion: dumped.serverVersion,
        dumpTool: dumped.tool,
        aftyVersion: options.aftyVersion,
        tables: dumped.tables,
        migrations: dumped.migrations,
      },
      directory,
    );
  } catch (error) {
    await rm(temporary, { force: true });
    throw backupWriteError(error, directory, tenant.id);
  }
}

/**
 * Loads the archive into a fresh scratch database and compares it with the manifest.
 * Returns the scratch name and checks; the caller drops the scratch.
 */
async function loadChecked(driver: BackupDriver, entry: BackupEntry, scratch: string): Promise<TableCheck[]> {
  const restored = await driver.load(entry, scratch);
  const checks = compareTables(entry.manifest.tables, restored);
  if (checks.some((check) => !check.ok)) {
    throw new OperationError(`the restored data does not match the manifest: ${describeMismatches(checks)}`, {
      tenant: entry.manifest.tenant,
      hint: 'the archive is unusable; pick another with --file',
    });
  }
  return checks;
}

export interface VerifyResult {
  file: string;
  sha256: string;
  tables: TableCheck[];
}

/** Checksum, then a test restore into a scratch database on the backup's server; scratch dropped. */
export async function verifyBackup(ctx: AftyContext, entry: BackupEntry): Promise<VerifyResult> {
  await assertChecksum(entry);
  const server = ctx.servers.get(entry.manifest.server);
  assertSameDriver(server, entry);
  const driver = backupDriver(server);
  const scratch = scratchName(entry.manifest.database, VERIFY_SCRATCH_MARK);
  try {
    const tables = await loadChecked(driver, entry, scratch);
    return { file: entry.path, sha256: entry.manifest.sha256, tables };
  } finally {
    await dropScratch(driver, scratch);
  }
}

/**
 * Drops a scratch database. A failure here must not mask the outcome (a restore that swapped
 * in succeeded); the leftover is named `<database>$v…`/`$r…` and holds no tenant's live data.
 */
async function dropScratch(driver: BackupDriver, scratch: string): Promise<void> {
  await driver.drop(scratch).catch(() => undefined);
}

function assertSameDriver(server: DatabaseServer, entry: BackupEntry): void {
  if (server.driver !== entry.manifest.driver) {
    throw new InputError(
      `archive ${entry.path} is a ${entry.manifest.driver} backup but server "${server.name}" is ${server.driver}`,
      { tenant: entry.manifest.tenant },
    );
  }
}

export interface RestoreResult {
  tenant: string;
  database: string;
  file: string;
  /** Where the data the tenant had before now lives, until pruned. */
  safetyCopy: string;
  tables: TableCheck[];
  /** What happened to an earlier restore of this tenant that had been interrupted, if there was one. */
  recovered: string | null;
}

export interface RestoreHooks extends StepHooks {
  /** Progress: "checksum", "load", "swap". */
  onPhase?(phase: 'checksum' | 'load' | 'swap'): void;
}

/**
 * Brings an interrupted restore of `tenant` to an end (see journal.ts): rolled back when its
 * tables had not moved yet, finished when they had. Returns what was done; undefined when there
 * was nothing to recover. A restore still running elsewhere is exit 2.
 */
export async function recoverRestore(ctx: AftyContext, tenant: string): Promise<string | undefined> {
  const file = journalPath(ctx.config.backup.directory, tenant);
  const journal = await readJournal(file);
  if (!journal) return undefined;
  if (journalOwnerRunning(journal)) {
    throw new InputError(
      `a restore of tenant ${tenant} is running (pid ${journal.pid}, since ${journal.startedAt})`,
      {
        tenant,
        hint: 'wait for it to finish',
      },
    );
  }
  const driver = backupDriver(ctx.servers.get(journal.server));
  const outcome =
    journal.phase === 'load'
      ? 'rolled back'
      : await driver.recover(journal.database, journal.scratch, journal.safety, journal.swap);
  await driver.drop(journal.scratch);
  await removeJournal(file);
  return outcome === 'finished'
    ? `finished the interrupted restore of ${tenant} from ${journal.archive}: the data is the archive's, the previous data is kept as ${journal.safety}`
    : `rolled back the interrupted restore of ${tenant} from ${journal.archive}: the data is as it was before`;
}

/**
 * Restores `entry` into `target`'s database: checksum, load into a scratch database, compare
 * with the manifest, then swap (the previous data becomes a safety copy). A journal follows the
 * restore from the scratch database on, so a killed one is ended by the next restore of the
 * tenant or by diagnose --fix; any failure leaves the tenant's data as it was (or, when the
 * swap failed after its tables moved, as the archive); the scratch database is always dropped.
 */
export async function restoreBackup(
  ctx: AftyContext,
  entry: BackupEntry,
  target: TenantRecord,
  hooks: RestoreHooks = {},
): Promise<RestoreResult> {
  const server = ctx.servers.get(target.server);
  assertSameDriver(server, entry);
  const driver = backupDriver(server);
  const recovered = (await recoverRestore(ctx, target.id)) ?? null;
  const scratch = scratchName(target.database, RESTORE_SCRATCH_MARK);
  const safety = safetyCopyName(target.database, new Date());
  hooks.onPhase?.('checksum');
  await assertChecksum(entry);
  const file = journalPath(ctx.config.backup.directory, target.id);
  const journal = newJournal({
    tenant: target.id,
    server: target.server,
    driver: server.driver,
    database: target.database,
    scratch,
    safety,
    archive: entry.path,
  });
  await ensureDirectory(path.dirname(file));
  await writeJournal(file, journal);
  const result = (tables: TableCheck[]) => ({
    tenant: target.id,
    database: target.database,
    file: entry.path,
    safetyCopy: safety,
    tables,
    recovered,
  });
  try {
    hooks.onPhase?.('load');
    const tables = await loadChecked(driver, entry, scratch);
    await stepMarker('restore loaded');
    hooks.onPhase?.('swap');
    journal.phase = 'swap';
    await writeJournal(file, journal);
    try {
      await driver.swap(target.database, scratch, safety, {
        ...hooks,
        journal: async (plan) => {
          journal.swap = plan;
          await writeJournal(file, journal);
        },
      });
    } catch (error) {
      // The swap undid what it could; recovery makes sure it is all or nothing, from the real state.
      const outcome = await driver
        .recover(target.database, scratch, safety, journal.swap)
        .catch((recoverError: unknown) => {
          throw new OperationError(
            `${errorMessage(error)}; ending the interrupted swap failed too: ${errorMessage(recoverError)}`,
            {
              tenant: target.id,
              hint: 'the next backup restore of the tenant, or afty diagnose --fix, ends it',
            },
          );
        });
      await removeJournal(file);
      if (outcome === 'finished') return result(tables);
      throw error;
    }
    await removeJournal(file);
    return result(tables);
  } catch (error) {
    if (journal.phase === 'load') await removeJournal(file);
    throw error;
  } finally {
    await dropScratch(driver, scratch);
  }
}

import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDirectory, partialPath, tenantBackupDirectory } from '../backup/archive.js';
import { backupDriver } from '../backup/drivers.js';
import { journalOwnerRunning, readJournal, removeJournal, writeJournal } from '../backup/journal.js';
import { MOVED_MARK, MOVE_SCRATCH_MARK, safetyCopyName, scratchName } from '../backup/naming.js';
import type { AftyContext } from '../context.js';
import { InputError, OperationError, errorMessage } from '../errors.js';
import type { TenantProgress } from '../fleet/index.js';
import type { MaintenanceSettings, TenantRecord } from '../registry/index.js';
import type { DatabaseServer } from '../servers/index.js';
import { stepMarker } from '../step-marker.js';
import { assertSecret, revealPassword } from './credentials.js';
import { pipeDatabase } from './copy.js';
import {
  assertMobile,
  fingerprintDifferences,
  moveOperations,
  type DatabaseFingerprint,
} from './move-sql.js';

/**
 * A move in progress, written before anything changes and updated before each change, so that a
 * killed move is ended by the next `tenant move` of the tenant or by `diagnose --fix`. Which way
 * it ends is decided by the registry, the one commit point: while the tenant's row names the
 * source server, the move is undone (the source was never touched but for maintenance); once it
 * names the target, the move is finished.
 */
export interface MoveJournal {
  format: 1;
  kind: 'move';
  pid: number;
  host: string;
  startedAt: string;
  tenant: string;
  from: string;
  to: string;
  database: string;
  /** The named pipe the dump streams through to the load, hidden in the tenant's backup folder. */
  archive: string;
  /** On the target: the loaded copy, and the empty database the placing swap leaves. */
  scratch: string;
  targetSpare: string;
  /** On the source: the empty stand-in the rename swaps in, and the name the source data gets. */
  placeholder: string;
  kept: string;
  /** The tenant's database user, created on the target by the move (null: the tenant has none there). */
  user: string | null;
  userCreated: boolean;
  /** The target database has been (or is being) created. */
  placing: boolean;
  /** What the move set the maintenance to, and when; null when it left maintenance alone. */
  maintenance: MaintenanceSettings | null;
  maintenanceOnAt: string | null;
  dropSource: boolean;
  /** The source rename's swap plan (backup driver), once it started; whether it completed. */
  sourceSwap?: unknown;
  sourceRenamed?: boolean;
}

export const MOVE_JOURNAL_FILE = '.move-journal.json';

export function moveJournalPath(backupDirectory: string, tenant: string): string {
  return path.join(tenantBackupDirectory(backupDirectory, tenant), MOVE_JOURNAL_FILE);
}

export interface MoveOptions {
  to: string;
  /** Put the tenant into maintenance while it moves (default); off for read-mostly tenants. */
  maintenance: boolean;
  /** Drop the source data once the move is done instead of keeping it renamed. */
  dropSource: boolean;
}

export interface MoveResult {
  tenant: string;
  from: string;
  to: string;
  database: string;
  /** False when the tenant was on the target already (nothing to do). */
  moved: boolean;
  /** How long the move kept the tenant in maintenance (0 when it did not put it there). */
  downtimeMs: number;
  maintenance: 'during the move' | 'already on' | 'not used';
  /** The source data, renamed, on the source server; null once dropped. */
  keptSource: string | null;
  tables: number;
  rows: number;
  /** What happened to an earlier move of this tenant that had been interrupted. */
  recovered: string | null;
}

type Step = Pick<TenantProgress, 'step'>;

const noProgress: Step = { step: (_name, work) => work() };

/** Marks a move step as done for the fault tests (AFTY_TEST_PAUSE_AT=move <step>). */
async function done(step: string): Promise<void> {
  await stepMarker(`move ${step}`);
}

/** Where the tenant's domains and metadata point, in Redis when one is configured. */
async function refreshCache(ctx: AftyContext, tenant: TenantRecord): Promise<void> {
  const { cache } = ctx.config;
  if (!cache.url) return;
  const [{ connectCache }, { refreshTenantLookup }] = await Promise.all([
    import('../cache/connection.js'),
    import('../cache/warm.js'),
  ]);
  const client = await connectCache(cache);
  try {
    await refreshTenantLookup(client, cache.prefix, await ctx.registry(), tenant);
  } finally {
    client.disconnect();
  }
}

/** Takes the maintenance the move set off again, unless someone changed it since. */
async function endMaintenance(ctx: AftyContext, journal: MoveJournal): Promise<number> {
  if (!journal.maintenance) return 0;
  const registry = await ctx.registry();
  const record = await registry.findTenant(journal.tenant);
  if (record && JSON.stringify(record.settings.maintenance) === JSON.stringify(journal.maintenance)) {
    const settings = { ...record.settings };
    delete settings.maintenance;
    await registry.updateTenant(record.id, { settings });
    await refreshCache(ctx, (await registry.findTenant(record.id))!);
  }
  return Date.now() - Date.parse(journal.maintenanceOnAt!);
}

/** Undoes a move that did not reach the registry switch: the target copies go, the source stays. */
async function undoMove(ctx: AftyContext, journal: MoveJournal, file: string): Promise<void> {
  const target = ctx.servers.get(journal.to);
  await target.dropDatabase(journal.scratch);
  await target.dropDatabase(journal.targetSpare);
  if (journal.placing) await target.dropDatabase(journal.database);
  if (journal.userCreated && journal.user) await target.dropUser(journal.user);
  await rm(journal.archive, { force: true });
  await endMaintenance(ctx, journal);
  await removeJournal(file);
}

/**
 * Finishes a move whose registry switch happened: cache lookup, the source renamed out of the way
 * (or dropped) and its user dropped, maintenance off, leftovers removed. Every step can run again.
 */
async function finishMove(
  ctx: AftyContext,
  journal: MoveJournal,
  file: string,
  progress: Step,
): Promise<number> {
  const registry = await ctx.registry();
  await progress.step('cache', async () => refreshCache(ctx, (await registry.findTenant(journal.tenant))!));
  await done('cache');
  const source = ctx.servers.get(journal.from);
  await progress.step('source', async () => {
    if (!journal.sourceRenamed) {
      await renameSource(source, journal, file);
      journal.sourceRenamed = true;
      await writeJournal(file, journal);
    }
    await source.dropDatabase(journal.database);
    await source.dropDatabase(journal.placeholder);
    if (journal.user && source.supportsUsers) await source.dropUser(journal.user);
    if (journal.dropSource) await source.dropDatabase(journal.kept);
  });
  await done('source');
  const downtimeMs = await progress.step('maintenance off', () => endMaintenance(ctx, journal));
  const target = ctx.servers.get(journal.to);
  await target.dropDatabase(journal.scratch);
  await target.dropDatabase(journal.targetSpare);
  await rm(journal.archive, { force: true });
  await removeJournal(file);
  return downtimeMs;
}

/**
 * Renames the source database to `kept` with the backup driver's swap (views, triggers and routines
 * included): its data goes to `kept`, the empty placeholder takes its name and is dropped after.
 * A swap killed half-way is first ended from its journalled plan.
 */
async function renameSource(source: DatabaseServer, journal: MoveJournal, file: string): Promise<void> {
  const driver = backupDriver(source);
  const outcome = await driver.recover(
    journal.database,
    journal.placeholder,
    journal.kept,
    journal.sourceSwap,
  );
  if (journal.sourceSwap !== undefined && outcome === 'finished') return;
  await source.dropDatabase(journal.placeholder);
  await source.createDatabase(journal.placeholder);
  await driver.swap(journal.database, journal.placeholder, journal.kept, {
    journal: async (plan) => {
      journal.sourceSwap = plan;
      await writeJournal(file, journal);
    },
  });
}

/**
 * Brings an interrupted move of `tenant` to an end: finished when the registry already names the
 * target, undone otherwise. Returns what was done; undefined when there was nothing to do. A move
 * still running elsewhere is exit 2.
 */
export async function recoverMove(ctx: AftyContext, tenant: string): Promise<string | undefined> {
  const file = moveJournalPath(ctx.config.backup.directory, tenant);
  const journal = await readJournal<MoveJournal>(file);
  if (!journal) return undefined;
  if (journalOwnerRunning(journal)) {
    throw new InputError(
      `a move of tenant ${tenant} is running (pid ${journal.pid}, since ${journal.startedAt})`,
      {
        tenant,
        hint: 'wait for it to finish',
      },
    );
  }
  const record = await (await ctx.registry()).findTenant(tenant);
  if (record?.server === journal.to) {
    await finishMove(ctx, journal, file, noProgress);
    return `finished the interrupted move of ${tenant} to "${journal.to}": it is served from there`;
  }
  await undoMove(ctx, journal, file);
  return `undid the interrupted move of ${tenant} to "${journal.to}": it is served from "${journal.from}" as before`;
}

/** Creates the journal only if none exists: two moves of one tenant never run at once. */
async function createJournal(file: string, journal: MoveJournal): Promise<void> {
  await ensureDirectory(path.dirname(file));
  try {
    await writeFile(file, `${JSON.stringify(journal, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new InputError(`another move of tenant ${journal.tenant} has just started`, {
      tenant: journal.tenant,
      hint: 'wait for it to finish',
    });
  }
}

/** Refuses (exit 2, nothing changed) what would make the move fail or clash on the target. */
async function assertMovable(
  ctx: AftyContext,
  tenant: TenantRecord,
  source: DatabaseServer,
  target: DatabaseServer,
  user: string | null,
): Promise<void> {
  assertMobile(source, 'tenant move');
  assertMobile(target, 'tenant move');
  if (source.driver !== target.driver) {
    throw new InputError(
      `tenant ${tenant.id} is on a ${source.driver} server and "${target.name}" is ${target.driver}: a move needs the same engine`,
      { tenant: tenant.id, hint: 'move it to a server of the same engine, or use tenant export and import' },
    );
  }
  // Reachable before anything changes (and, for SQLite, its folder exists).
  await target.ping();
  const owner = await (await ctx.registry()).findTenantByDatabase(target.name, tenant.database);
  if (owner) {
    throw new InputError(
      `database ${tenant.database} on server "${target.name}" already belongs to tenant ${owner.id}`,
      { tenant: tenant.id, hint: 'move it to another server' },
    );
  }
  if (await target.databaseExists(tenant.database)) {
    throw new InputError(`database ${tenant.database} already exists on server "${target.name}"`, {
      tenant: tenant.id,
      hint: 'check what it holds and drop it (afty diagnose lists it as an orphan), or move to another server',
    });
  }
  if (user && (await target.userExists(user))) {
    throw new InputError(`database user ${user} already exists on server "${target.name}"`, {
      tenant: tenant.id,
      hint: 'drop the stale user there (afty diagnose shows the command), then retry',
    });
  }
}

/**
 * Moves a tenant to another server: maintenance on (unless asked not to, or already on), a
 * consistent dump, a load into a scratch database on the target, a check that the copy has the
 * same tables, views, triggers, routines, row counts and checksums as the source, the tenant's
 * user on the target, the copy renamed into place, the registry row switched (one update: the
 * commit point), the cache lookup rebuilt, the source renamed to `<database>$m<time>` (or dropped)
 * with its user, maintenance back off. Killed or failed before the switch, the tenant is served
 * from the source, unchanged; after it, from the target. The journal lets the next move of the
 * tenant (or diagnose --fix) undo or finish an interrupted one.
 */
export async function moveTenant(
  ctx: AftyContext,
  tenant: TenantRecord,
  options: MoveOptions,
  progress: Step = noProgress,
): Promise<MoveResult> {
  const registry = await ctx.registry();
  const target = ctx.servers.get(options.to);
  const recovered = (await recoverMove(ctx, tenant.id)) ?? null;
  const current = (await registry.findTenant(tenant.id)) ?? tenant;
  const result = (fields: Partial<MoveResult>): MoveResult => ({
    tenant: current.id,
    from: current.server,
    to: options.to,
    database: current.database,
    moved: false,
    downtimeMs: 0,
    maintenance: 'not used',
    keptSource: null,
    tables: 0,
    rows: 0,
    recovered,
    ...fields,
  });
  if (current.server === options.to) return result({ from: options.to });

  const source = ctx.servers.get(current.server);
  const user = current.dbUser && target.supportsUsers ? current.dbUser : null;
  if (user) assertSecret(ctx.config.secret);
  const password = user ? revealPassword(current, ctx.config.secret) : undefined;
  await assertMovable(ctx, current, source, target, user);

  const database = current.database;
  const file = moveJournalPath(ctx.config.backup.directory, current.id);
  const journal: MoveJournal = {
    format: 1,
    kind: 'move',
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    tenant: current.id,
    from: current.server,
    to: options.to,
    database,
    archive: partialPath(
      path.join(tenantBackupDirectory(ctx.config.backup.directory, current.id), 'move.pipe'),
    ),
    scratch: scratchName(database, MOVE_SCRATCH_MARK),
    targetSpare: scratchName(database, MOVE_SCRATCH_MARK),
    placeholder: scratchName(database, MOVE_SCRATCH_MARK),
    kept: safetyCopyName(database, new Date(), MOVED_MARK),
    user,
    userCreated: false,
    placing: false,
    maintenance: null,
    maintenanceOnAt: null,
    dropSource: options.dropSource,
  };
  await createJournal(file, journal);
  const alreadyInMaintenance = Boolean(current.settings.maintenance);
  let copy: DatabaseFingerprint;
  try {
    if (options.maintenance && !alreadyInMaintenance) {
      await progress.step('maintenance', async () => {
        journal.maintenance = { message: null, allow_ips: [], retry_after: null };
        journal.maintenanceOnAt = new Date().toISOString();
        await writeJournal(file, journal);
        await registry.updateTenant(current.id, {
          settings: { ...current.settings, maintenance: journal.maintenance },
        });
        await refreshCache(ctx, (await registry.findTenant(current.id))!);
      });
      await done('maintenance');
    }
    // A tenant in maintenance is not written: its fingerprint is read while the copy runs.
    const quiet = options.maintenance || alreadyInMaintenance;
    const original = quiet ? moveOperations(source).fingerprint(database) : undefined;
    original?.catch(() => undefined);
    await progress.step('copy', () =>
      pipeDatabase(source, current, target, journal.scratch, journal.archive),
    );
    await done('copy');
    copy = await progress.step(
      'verify',
      async () => {
        const [before, loaded] = await Promise.all([
          original ?? moveOperations(source).fingerprint(database),
          moveOperations(target).fingerprint(journal.scratch),
        ]);
        const differences = fingerprintDifferences(before, loaded);
        if (differences.length > 0) {
          throw new OperationError(
            `the copy of tenant ${current.id} on server "${options.to}" does not match the source: ${differences.slice(0, 5).join(', ')}${differences.length > 5 ? `, and ${differences.length - 5} more` : ''}`,
            {
              tenant: current.id,
              hint: options.maintenance
                ? 'the move was undone, the tenant is served from its server as before; check both servers, then retry'
                : 'the tenant was written while it moved; retry with maintenance (without --no-maintenance)',
            },
          );
        }
        return loaded;
      },
      (loaded) => `${loaded.tables.length} tables identical`,
    );
    await done('verify');
    if (user) {
      await progress.step('user', async () => {
        journal.userCreated = true;
        await writeJournal(file, journal);
        await target.createUser(user, password!, database);
      });
      await done('user');
    }
    await progress.step('place', async () => {
      journal.placing = true;
      await writeJournal(file, journal);
      await target.createDatabase(database);
      await backupDriver(target).swap(database, journal.scratch, journal.targetSpare);
    });
    await done('place');
    await progress.step('switch', () => registry.updateTenant(current.id, { server: options.to }));
    await done('switch');
  } catch (error) {
    // The registry is the commit point: a failure that still left it switched finishes below.
    const now = await registry.findTenant(current.id).catch(() => undefined);
    if (now?.server !== options.to) {
      await undoMove(ctx, journal, file).catch((undoError: unknown) => {
        throw new OperationError(
          `${errorMessage(error)}; undoing the move failed too: ${errorMessage(undoError)}`,
          {
            tenant: current.id,
            hint: `the tenant is served from "${current.server}"; the next afty tenant move ${current.id} (or afty diagnose --fix) cleans up`,
          },
        );
      });
      throw error;
    }
    copy = await moveOperations(target).fingerprint(database);
  }
  let downtimeMs: number;
  try {
    downtimeMs = await finishMove(ctx, journal, file, progress);
  } catch (error) {
    throw new OperationError(
      `tenant ${current.id} is now served from "${options.to}", but finishing the move failed: ${errorMessage(error)}`,
      {
        tenant: current.id,
        hint: `run afty tenant move ${current.id} --to ${options.to} again (or afty diagnose --fix) to finish it`,
        cause: error,
      },
    );
  }
  return result({
    from: journal.from,
    moved: true,
    downtimeMs,
    maintenance: journal.maintenance ? 'during the move' : alreadyInMaintenance ? 'already on' : 'not used',
    keptSource: options.dropSource ? null : journal.kept,
    tables: copy.tables.filter((table) => table.type === 'table').length,
    rows: copy.tables.reduce((sum, table) => sum + table.rows, 0),
  });
}

/** Journals of moves in progress or interrupted, in every tenant folder of the backup directory. */
export async function pendingMoves(backupDirectory: string): Promise<MoveJournal[]> {
  const { backupTenants } = await import('../backup/archive.js');
  const found: MoveJournal[] = [];
  for (const tenant of await backupTenants(backupDirectory)) {
    const journal = await readJournal<MoveJournal>(moveJournalPath(backupDirectory, tenant));
    if (journal) found.push(journal);
  }
  return found;
}

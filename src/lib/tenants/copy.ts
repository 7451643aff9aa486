import { constants as fsConstants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  ensureDirectory,
  partialPath,
  tenantBackupDirectory,
  type BackupEntry,
  type BackupManifest,
  type TableSummary,
} from '../backup/archive.js';
import { backupDriver } from '../backup/drivers.js';
import { compareTables, describeMismatches } from '../backup/inspect.js';
import { MOVE_SCRATCH_MARK, scratchName } from '../backup/naming.js';
import type { AftyContext } from '../context.js';
import { InputError, OperationError } from '../errors.js';
import type { TenantRecord, TenantSettings } from '../registry/index.js';
import type { DatabaseServer } from '../servers/index.js';
import type { EngineKind } from '../servers/engine.js';
import { createTenant, resolveTenant, assertProvisioned, type CreateTenantInput } from './index.js';
import { assertMobile, fingerprintDifferences, moveOperations } from './move-sql.js';
import type { Step, StepHooks } from './saga.js';

/**
 * Replaces the (empty) `database` with the contents of `scratch` through the backup driver's
 * swap (tables by rename, views, triggers and routines recreated), then drops what is left over.
 */
export async function swapInto(server: DatabaseServer, database: string, scratch: string): Promise<void> {
  const spare = scratchName(database, MOVE_SCRATCH_MARK);
  const driver = backupDriver(server);
  try {
    await driver.swap(database, scratch, spare);
  } finally {
    await server.dropDatabase(spare);
    await server.dropDatabase(scratch);
  }
}

/** What a new tenant got from its archive. */
export interface CopiedData {
  tables: number;
  rows: number;
}

/**
 * Fills a scratch database on the tenant's server with `load`, checks what it loaded against what
 * was expected (tables and views, row counts; the restore rules), and swaps it into the tenant's
 * database. Any failure leaves the tenant database as it was (empty, for a new tenant).
 */
async function intoTenant(
  ctx: AftyContext,
  tenant: TenantRecord,
  load: (scratch: string) => Promise<{ expected: TableSummary[]; loaded: TableSummary[] }>,
): Promise<CopiedData> {
  const server = ctx.servers.get(tenant.server);
  const scratch = scratchName(tenant.database, MOVE_SCRATCH_MARK);
  try {
    const { expected, loaded } = await load(scratch);
    const checks = compareTables(expected, loaded);
    if (checks.some((check) => !check.ok)) {
      throw new OperationError(`the loaded data does not match the archive: ${describeMismatches(checks)}`, {
        tenant: tenant.id,
      });
    }
    await swapInto(server, tenant.database, scratch);
    return {
      tables: loaded.filter((table) => table.type === 'table').length,
      rows: loaded.reduce((sum, table) => sum + table.rows, 0),
    };
  } finally {
    await server.dropDatabase(scratch);
  }
}

/** Loads an archive file into the tenant (see intoTenant). */
export function loadIntoTenant(
  ctx: AftyContext,
  tenant: TenantRecord,
  entry: BackupEntry,
): Promise<CopiedData> {
  const server = ctx.servers.get(tenant.server);
  return intoTenant(ctx, tenant, async (scratch) => ({
    expected: entry.manifest.tables,
    loaded: await backupDriver(server).load(entry, scratch),
  }));
}

/**
 * Opens and at once closes the pipe read-write, which never blocks: a side still waiting in its
 * open (the other side failed before opening) gets through and then sees the other end gone.
 */
async function releaseFifo(fifo: string): Promise<void> {
  const handle = await open(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK).catch(() => undefined);
  await handle?.close();
}

/**
 * Dumps `owner`'s database on `source` straight into a new `scratch` database on `target` through
 * a named pipe at `fifo` (0600, removed afterwards): dump and load run at the same time and
 * nothing is written to disk. Fails when either side fails; the caller drops the scratch.
 */
export async function pipeDatabase(
  source: DatabaseServer,
  owner: Pick<TenantRecord, 'id' | 'database' | 'server'>,
  target: DatabaseServer,
  scratch: string,
  fifo: string,
): Promise<{ entry: BackupEntry; loaded: TableSummary[] }> {
  const { execa } = await import('execa');
  await execa('mkfifo', ['-m', '600', fifo]);
  let settled = false;
  // Until both sides are done, a failed one keeps releasing the other from a blocked open.
  const release = async () => {
    while (!settled) {
      await releaseFifo(fifo);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const failing = <T>(work: Promise<T>) =>
    work.catch((error: unknown) => {
      void release();
      throw error;
    });
  try {
    const reading: BackupEntry = {
      path: fifo,
      manifestPath: fifo,
      manifest: { ...placeholderManifest(owner, source.driver), file: path.basename(fifo) },
    };
    const [dumped, loaded] = await Promise.allSettled([
      failing(dumpTransient(source, owner, fifo, false)),
      failing(backupDriver(target).load(reading, scratch)),
    ]);
    settled = true;
    // The dump's failure explains the load's (its input ended early), so it is reported first.
    if (dumped.status === 'rejected') throw dumped.reason;
    if (loaded.status === 'rejected') throw loaded.reason;
    return { entry: dumped.value, loaded: loaded.value };
  } finally {
    settled = true;
    await rm(fifo, { force: true });
  }
}

/** What a load needs to know of an archive that does not exist yet (it streams in). */
function placeholderManifest(
  owner: Pick<TenantRecord, 'id' | 'database' | 'server'>,
  driver: EngineKind,
): Omit<BackupManifest, 'file'> {
  return {
    format: 1,
    tenant: owner.id,
    database: owner.database,
    server: owner.server,
    driver,
    compressed: false,
    createdAt: new Date().toISOString(),
    sha256: '',
    bytes: 0,
    durationMs: 0,
    serverVersion: '',
    dumpTool: '',
    aftyVersion: '',
    tables: [],
    migrations: [],
  };
}

/**
 * Dumps a tenant's database into `file` (an archive afty holds for a moment: a move's or clone's
 * dump, an export's data) and describes it as the backup drivers' load expects.
 */
export async function dumpTransient(
  server: DatabaseServer,
  owner: Pick<TenantRecord, 'id' | 'database' | 'server'>,
  file: string,
  compress: boolean,
): Promise<BackupEntry> {
  const started = Date.now();
  const dumped = await backupDriver(server).dump(owner.database, file, compress);
  return {
    path: file,
    manifestPath: file,
    manifest: {
      format: 1,
      tenant: owner.id,
      database: owner.database,
      server: owner.server,
      driver: server.driver,
      file: path.basename(file),
      compressed: compress,
      createdAt: new Date(started).toISOString(),
      sha256: dumped.written.sha256,
      bytes: dumped.written.bytes,
      durationMs: Date.now() - started,
      serverVersion: dumped.serverVersion,
      dumpTool: dumped.tool,
      aftyVersion: '',
      tables: dumped.tables,
      migrations: dumped.migrations,
    },
  };
}

/** The steps a new tenant gets after its database and user: its data, then its settings. */
export function populateSteps(
  ctx: AftyContext,
  fill: (tenant: TenantRecord) => Promise<CopiedData>,
  settings: TenantSettings,
  copied: (data: CopiedData) => void,
): (tenant: TenantRecord) => Step[] {
  return (tenant) => [
    { name: 'data', run: async () => copied(await fill(tenant)) },
    {
      name: 'settings',
      run: async () => (await ctx.registry()).updateTenant(tenant.id, { settings }),
    },
  ];
}

export interface CloneInput {
  id: string;
  server?: string;
  domains?: string[];
  name?: string;
}

export interface CloneResult extends CopiedData {
  tenant: TenantRecord;
  source: string;
  /** True when the copy's checksums equal the source's after the clone (nothing was written meanwhile). */
  identical: boolean;
}

/**
 * A new tenant with its own database, user and a copy of the source's settings, holding the data
 * of one consistent dump of the source (which keeps serving: a MySQL dump takes no lock past its
 * start), checked against the dump's tables and row counts. Whatever fails, nothing of the new
 * tenant is left (createTenant's compensation).
 */
export async function cloneTenant(
  ctx: AftyContext,
  sourceId: string,
  input: CloneInput,
  hooks: StepHooks = {},
): Promise<CloneResult> {
  const registry = await ctx.registry();
  const source = await resolveTenant(registry, sourceId);
  await assertProvisioned(registry, source);
  const sourceServer = ctx.servers.get(source.server);
  const targetServer = ctx.servers.get(input.server ?? source.server);
  assertMobile(sourceServer, 'tenant clone');
  assertMobile(targetServer, 'tenant clone');
  if (sourceServer.driver !== targetServer.driver) {
    throw new InputError(
      `tenant ${source.id} is on a ${sourceServer.driver} server and "${targetServer.name}" is ${targetServer.driver}: a clone needs the same engine`,
      { hint: 'clone it onto a server of the same engine, or use tenant export and import' },
    );
  }
  let data: CopiedData = { tables: 0, rows: 0 };
  const fill = async (tenant: TenantRecord): Promise<CopiedData> => {
    const directory = tenantBackupDirectory(ctx.config.backup.directory, tenant.id);
    await ensureDirectory(directory);
    const fifo = partialPath(path.join(directory, 'clone.pipe'));
    return intoTenant(ctx, tenant, async (scratch) => {
      const { entry, loaded } = await pipeDatabase(sourceServer, source, targetServer, scratch, fifo);
      return { expected: entry.manifest.tables, loaded };
    });
  };
  const request: CreateTenantInput = {
    id: input.id,
    name: input.name,
    server: targetServer.name,
    domains: input.domains,
    copy: { command: 'clone', from: source.id },
  };
  const tenant = await createTenant(ctx, request, {
    ...hooks,
    extraSteps: populateSteps(ctx, fill, source.settings, (copied) => (data = copied)),
  });
  const [original, copy] = await Promise.all([
    moveOperations(sourceServer).fingerprint(source.database),
    moveOperations(targetServer).fingerprint(tenant.database),
  ]);
  return {
    tenant,
    source: source.id,
    ...data,
    identical: fingerprintDifferences(original, copy).length === 0,
  };
}

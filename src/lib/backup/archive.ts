import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline as streamPipeline, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError, NotFoundError, OperationError } from '../errors.js';
import type { EngineKind } from '../servers/engine.js';
import { allEngines, engineOf, isEngineKind } from '../servers/engines/index.js';
import { describeValue } from '../validation/index.js';

export const MANIFEST_FORMAT = 1;

export interface TableSummary {
  name: string;
  type: 'table' | 'view';
  /** Rows when the backup was taken: exact for SQLite, the server's estimate for MySQL. */
  rows: number;
  rowsExact: boolean;
}

export interface BackupManifest {
  format: number;
  tenant: string;
  database: string;
  server: string;
  driver: EngineKind;
  /** The archive's file name, in the same folder as the manifest. */
  file: string;
  compressed: boolean;
  createdAt: string;
  sha256: string;
  bytes: number;
  durationMs: number;
  serverVersion: string;
  /** mariadb-dump / mysqldump, or the SQLite online backup API. */
  dumpTool: string;
  aftyVersion: string;
  tables: TableSummary[];
  migrations: string[];
}

/** An archive on disk with its manifest; `path` is absolute. */
export interface BackupEntry {
  path: string;
  manifestPath: string;
  manifest: BackupManifest;
}

/** `20261123T110532.123Z`: UTC, sorts chronologically as text, safe in file names. */
export function backupTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

const TIMESTAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;
/** `<timestamp>.sql[.gz]` or `<timestamp>.sqlite[.gz]`: a plain name, never a path. */
// A function: the engines are not yet loaded while this module initialises (they import it).
const archiveName = () =>
  new RegExp(
    `^\\d{8}T\\d{6}\\.\\d{3}Z(${allEngines()
      .map((engine) => engine.archiveExtension.replace('.', '\\.'))
      .join('|')})(\\.gz)?$`,
  );

export function parseBackupTimestamp(stamp: string): Date | undefined {
  const match = TIMESTAMP.exec(stamp);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, ms] = match;
  return new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}.${ms}Z`);
}

export function archiveExtension(driver: EngineKind, compressed: boolean): string {
  return `${engineOf(driver).archiveExtension}${compressed ? '.gz' : ''}`;
}

export function tenantBackupDirectory(backupDirectory: string, tenant: string): string {
  return path.join(backupDirectory, tenant);
}

/** Files being written carry this suffix until complete, so nothing partial looks like a backup. */
export const PARTIAL_SUFFIX = '.partial';

export function partialPath(finalPath: string): string {
  return `${path.dirname(finalPath)}/.${path.basename(finalPath)}.${randomBytes(4).toString('hex')}${PARTIAL_SUFFIX}`;
}

/** Written bytes between two young-generation collections (about 4× that much dump text). */
const COLLECT_EVERY_BYTES = 2 << 20;

/**
 * A minor (young generation) garbage collection, ~0.2 ms. Every chunk streamed through is a
 * Buffer that dies young, but V8 only collects once tens of MB of them pile up; collecting
 * every few MB keeps a dump of any size within a flat ~100 MB process (bench/backup.ts).
 */
async function youngGarbageCollector(): Promise<() => void> {
  const [{ setFlagsFromString }, { runInNewContext }] = await Promise.all([
    import('node:v8'),
    import('node:vm'),
  ]);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
  // The function stays usable; the flag goes back because V8 stamps code caches with a hash of
  // its flags: left on, the caches bin/bundle.js writes at exit would be rejected by every later
  // run (each then compiles from source and writes them again, covering one command).
  setFlagsFromString('--no-expose-gc');
  return () => gc({ type: 'minor' });
}

export interface WrittenArchive {
  sha256: string;
  bytes: number;
}

/**
 * Streams `source` (optionally through gzip) into a temporary file while hashing what is
 * written; memory stays at a few stream buffers whatever the size. The caller renames the
 * temporary file into place only once everything else succeeded.
 */
export async function writeArchiveStream(
  source: Readable,
  temporaryPath: string,
  compress: boolean,
): Promise<WrittenArchive> {
  const { createGzip } = await import('node:zlib');
  const collect = await youngGarbageCollector();
  const hash = createHash('sha256');
  let bytes = 0;
  let sinceCollect = 0;
  const tap = async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      hash.update(chunk);
      bytes += chunk.length;
      sinceCollect += chunk.length;
      if (sinceCollect >= COLLECT_EVERY_BYTES) {
        sinceCollect = 0;
        collect();
      }
      yield chunk;
    }
  };
  const output = createWriteStream(temporaryPath, { mode: 0o600, highWaterMark: 1 << 16 });
  if (compress) {
    const gzip = createGzip({ level: 6, chunkSize: 1 << 16 });
    await pipeline(source, gzip, tap, output);
  } else {
    await pipeline(source, tap, output);
  }
  return { sha256: hash.digest('hex'), bytes };
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

/** The archive's content, decompressed when it is gzip. */
export async function openArchive(entry: BackupEntry): Promise<Readable> {
  const stream = createReadStream(entry.path, { highWaterMark: 1 << 20 });
  if (!entry.manifest.compressed) return stream;
  const { createGunzip } = await import('node:zlib');
  // pipeline forwards a read error to the gunzip stream, which the consumer's own pipeline reports.
  return streamPipeline(stream, createGunzip({ chunkSize: 1 << 16 }), () => {});
}

/** Fails (exit 1) when the archive is not byte-for-byte what the manifest recorded. */
export async function assertChecksum(entry: BackupEntry): Promise<void> {
  if (!existsSync(entry.path)) {
    throw new OperationError(`archive ${entry.path} is missing (its manifest is there)`, {
      tenant: entry.manifest.tenant,
    });
  }
  const actual = await sha256File(entry.path);
  if (actual !== entry.manifest.sha256) {
    throw new OperationError(`archive ${entry.path} is corrupt: its sha256 does not match the manifest`, {
      tenant: entry.manifest.tenant,
      hint: 'nothing was changed; pick another archive with --file (see afty backup list)',
    });
  }
}

/** Moves the archive, then the manifest into place: a backup counts only once its manifest exists. */
export async function publishBackup(
  temporaryArchive: string,
  manifest: BackupManifest,
  directory: string,
): Promise<BackupEntry> {
  const archivePath = path.join(directory, manifest.file);
  const manifestPath = path.join(directory, manifestName(manifest.file));
  const temporaryManifest = partialPath(manifestPath);
  try {
    // In the try: a full disk can fail the write after the file exists.
    await writeFile(temporaryManifest, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    await rename(temporaryArchive, archivePath);
    await rename(temporaryManifest, manifestPath);
  } catch (error) {
    await rm(temporaryManifest, { force: true });
    throw error;
  }
  return { path: archivePath, manifestPath, manifest };
}

/** Any engine's archive extension (with its optional .gz) at the end of a file name. */
const archiveSuffix = () =>
  new RegExp(
    `(${allEngines()
      .map((engine) => engine.archiveExtension.replace('.', '\\.'))
      .join('|')})(\\.gz)?$`,
  );

export function manifestName(archiveFile: string): string {
  return `${archiveFile.replace(archiveSuffix(), '')}.json`;
}

export async function ensureDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
}

/**
 * Names read from a manifest end up in paths and database names (scratch databases are named after
 * `database`), so a manifest is only taken when they have the shapes afty writes.
 */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DATABASE_NAME = /^[A-Za-z0-9_$-]{1,64}$/;

function isManifest(value: unknown): value is BackupManifest {
  const manifest = value as Partial<BackupManifest> | null;
  return (
    !!manifest &&
    manifest.format === MANIFEST_FORMAT &&
    typeof manifest.file === 'string' &&
    typeof manifest.sha256 === 'string' &&
    typeof manifest.tenant === 'string' &&
    SAFE_NAME.test(manifest.tenant) &&
    typeof manifest.database === 'string' &&
    DATABASE_NAME.test(manifest.database) &&
    typeof manifest.server === 'string' &&
    SAFE_NAME.test(manifest.server) &&
    isEngineKind(manifest.driver) &&
    Array.isArray(manifest.tables)
  );
}

/** Reads a manifest; `file` may name the archive or the manifest itself. */
export async function readBackup(file: string): Promise<BackupEntry> {
  const absolute = path.resolve(file);
  const manifestPath = absolute.endsWith('.json')
    ? absolute
    : path.join(path.dirname(absolute), manifestName(path.basename(absolute)));
  if (!existsSync(manifestPath)) {
    throw new NotFoundError(`no backup manifest at ${manifestPath}`, {
      hint: 'an archive without its manifest is incomplete; see afty backup list',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (error) {
    throw new InputError(`${manifestPath} is not a valid manifest: ${(error as Error).message}`);
  }
  if (!isManifest(parsed)) throw new InputError(`${manifestPath} is not an afty backup manifest`);
  // The archive sits next to its manifest: a tampered `file` ("../../x") must not reach other files.
  if (!archiveName().test(parsed.file) || manifestName(parsed.file) !== path.basename(manifestPath)) {
    throw new InputError(
      `${manifestPath}: its file ${describeValue(parsed.file)} is not an archive in the same folder`,
      { hint: 'the manifest was edited or moved; nothing was read or changed' },
    );
  }
  return { path: path.join(path.dirname(manifestPath), parsed.file), manifestPath, manifest: parsed };
}

/** Tenants that have a backup folder (including tenants deleted since). */
export async function backupTenants(backupDirectory: string): Promise<string[]> {
  if (!existsSync(backupDirectory)) return [];
  const entries = await readdir(backupDirectory, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** A tenant's complete backups, newest first. Unreadable manifests are skipped. */
export async function listBackups(backupDirectory: string, tenant: string): Promise<BackupEntry[]> {
  const directory = tenantBackupDirectory(backupDirectory, tenant);
  if (!existsSync(directory)) return [];
  const names = (await readdir(directory)).filter((name) => TIMESTAMP.test(name.replace(/\.json$/, '')));
  const entries: BackupEntry[] = [];
  for (const name of names) {
    try {
      const entry = await readBackup(path.join(directory, name));
      if (existsSync(entry.path)) entries.push(entry);
    } catch {
      // A foreign or damaged .json is not a backup; list shows only what restore can use.
    }
  }
  return entries.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt));
}

export async function latestBackup(backupDirectory: string, tenant: string): Promise<BackupEntry> {
  const [latest] = await listBackups(backupDirectory, tenant);
  if (!latest) {
    throw new NotFoundError(`no backups in ${tenantBackupDirectory(backupDirectory, tenant)}`, {
      tenant,
      hint: `create one with afty backup create --tenant ${tenant}`,
    });
  }
  return latest;
}

const FILE_FAILURES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

/**
 * A file-system failure while writing a backup as one line naming the folder and the config key
 * to look at (exit 1); anything else is returned unchanged.
 */
export function backupWriteError(error: unknown, directory: string, tenant: string): unknown {
  const reason = FILE_FAILURES[(error as NodeJS.ErrnoException | undefined)?.code ?? ''];
  if (!reason) return error;
  return new OperationError(`cannot write the backup to ${directory}: ${reason}`, {
    tenant,
    hint: 'free space (or fix access) there or point backup.directory elsewhere, then retry; nothing was kept',
    cause: error,
  });
}

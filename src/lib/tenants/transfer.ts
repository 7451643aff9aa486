import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  archiveExtension,
  ensureDirectory,
  partialPath,
  tenantBackupDirectory,
  type TableSummary,
} from '../backup/archive.js';
import type { AftyContext } from '../context.js';
import { isEngineKind } from '../servers/engines/index.js';
import type { EngineKind } from '../servers/engine.js';
import { InputError, NotFoundError } from '../errors.js';
import type { TenantRecord, TenantSettings } from '../registry/index.js';
import {
  REGISTRY_STATUSES,
  PROVISIONING,
  describeValue,
  validateDomain,
  validateTenantKey,
  validateTenantName,
  type TenantStatus,
} from '../validation/index.js';
import { dumpTransient, loadIntoTenant, populateSteps, type CopiedData } from './copy.js';
import { assertProvisioned, chooseServer, createTenant, resolveTenant } from './index.js';
import type { StepHooks } from './saga.js';
import { assertMobile } from './move-sql.js';
import { TarFormatError, TarReader, writeTar, type TarEntry } from './tar.js';

/**
 * A tenant export: one tar file with `manifest.json` (what the tenant is: registry row with
 * settings and domains, never credentials; the data's checksum, tables and row counts) followed by
 * the data (`data.sql.gz` from mariadb-dump/mysqldump, `data.sqlite.gz` a copy of the database
 * file), which another afty installation imports as a new tenant.
 */
export interface ExportManifest {
  format: 1;
  kind: typeof EXPORT_KIND;
  aftyVersion: string;
  createdAt: string;
  engine: EngineKind;
  tenant: {
    id: string;
    name: string;
    status: TenantStatus;
    settings: TenantSettings;
    domains: Array<{ domain: string; primary: boolean }>;
  };
  /** Where it came from, for the record. */
  source: { server: string; database: string; serverVersion: string; dumpTool: string };
  data: { file: string; bytes: number; sha256: string };
  tables: TableSummary[];
  migrations: string[];
}

const EXPORT_KIND = 'afty-tenant-export';
export const MANIFEST_ENTRY = 'manifest.json';
/** A manifest is a registry row and a table list: anything near this size is not one. */
export const MAX_MANIFEST_BYTES = 1 << 20;

function dataEntryName(engine: EngineKind): string {
  return `data${archiveExtension(engine, true)}`;
}

export interface ExportResult {
  tenant: string;
  file: string;
  bytes: number;
  sha256: string;
  tables: number;
  domains: number;
}

/** Writes the tenant's export to `output` (0600), refusing to replace a file unless `force`. */
export async function exportTenant(
  ctx: AftyContext,
  tenantId: string,
  output: string,
  options: { force: boolean; aftyVersion: string },
): Promise<ExportResult> {
  const registry = await ctx.registry();
  const tenant = await resolveTenant(registry, tenantId);
  await assertProvisioned(registry, tenant);
  const target = path.resolve(output);
  if (existsSync(target) && !options.force) {
    throw new InputError(`${target} already exists`, {
      tenant: tenant.id,
      hint: 'pass --force to replace it',
    });
  }
  if (!existsSync(path.dirname(target))) {
    throw new InputError(`folder ${path.dirname(target)} does not exist`, { tenant: tenant.id });
  }
  const server = ctx.servers.get(tenant.server);
  assertMobile(server, 'tenant export');
  const directory = tenantBackupDirectory(ctx.config.backup.directory, tenant.id);
  await ensureDirectory(directory);
  const dump = partialPath(path.join(directory, `export${archiveExtension(server.driver, true)}`));
  const written = partialPath(target);
  try {
    const entry = await dumpTransient(server, tenant, dump, true);
    const domains = await registry.listDomains([tenant.id]);
    const manifest: ExportManifest = {
      format: 1,
      kind: EXPORT_KIND,
      aftyVersion: options.aftyVersion,
      createdAt: entry.manifest.createdAt,
      engine: server.driver,
      tenant: {
        id: tenant.id,
        name: tenant.name,
        status: tenant.status as TenantStatus,
        settings: tenant.settings,
        domains: domains.map((domain) => ({ domain: domain.domain, primary: domain.primary })),
      },
      source: {
        server: tenant.server,
        database: tenant.database,
        serverVersion: entry.manifest.serverVersion,
        dumpTool: entry.manifest.dumpTool,
      },
      data: {
        file: dataEntryName(server.driver),
        bytes: entry.manifest.bytes,
        sha256: entry.manifest.sha256,
      },
      tables: entry.manifest.tables,
      migrations: entry.manifest.migrations,
    };
    const json = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    await writeTar(written, [
      { name: MANIFEST_ENTRY, size: json.length, data: json },
      { name: manifest.data.file, size: entry.manifest.bytes, data: { file: dump } },
    ]);
    await rename(written, target);
    return {
      tenant: tenant.id,
      file: target,
      bytes: (await stat(target)).size,
      sha256: manifest.data.sha256,
      tables: manifest.tables.filter((table) => table.type === 'table').length,
      domains: domains.length,
    };
  } finally {
    await rm(dump, { force: true });
    await rm(written, { force: true });
  }
}

function refuse(file: string, why: string): InputError {
  return new InputError(`${file} is not a usable tenant export: ${why}`, {
    hint: 'nothing was created; export the tenant again (afty tenant export)',
  });
}

const HEX64 = /^[0-9a-f]{64}$/;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks every field import uses; names and ids as strictly as if typed on the command line. */
function parseManifest(file: string, text: string): ExportManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw refuse(file, 'its manifest is not JSON');
  }
  if (!isObject(parsed) || parsed.kind !== EXPORT_KIND || parsed.format !== 1) {
    throw refuse(file, 'its manifest is not an afty tenant export (format 1)');
  }
  const manifest = parsed as unknown as ExportManifest;
  if (!isEngineKind(manifest.engine)) {
    throw refuse(file, `unknown engine ${describeValue(String(manifest.engine))}`);
  }
  const data = manifest.data as unknown;
  if (
    !isObject(data) ||
    data.file !== dataEntryName(manifest.engine) ||
    typeof data.sha256 !== 'string' ||
    !HEX64.test(data.sha256) ||
    !Number.isSafeInteger(data.bytes) ||
    (data.bytes as number) < 0
  ) {
    throw refuse(file, 'its manifest does not describe the data entry');
  }
  const tenant = manifest.tenant as unknown;
  if (!isObject(tenant) || typeof tenant.id !== 'string' || typeof tenant.name !== 'string') {
    throw refuse(file, 'its manifest has no tenant');
  }
  try {
    validateTenantKey(tenant.id);
    validateTenantName(tenant.name);
    if (!Array.isArray(tenant.domains)) throw new InputError('no domain list');
    for (const domain of tenant.domains as unknown[]) {
      if (!isObject(domain) || typeof domain.domain !== 'string')
        throw new InputError('a domain is not a name');
      validateDomain(domain.domain);
    }
  } catch (error) {
    throw refuse(file, (error as Error).message);
  }
  if (
    typeof tenant.status !== 'string' ||
    tenant.status === PROVISIONING ||
    !(REGISTRY_STATUSES as readonly string[]).includes(tenant.status)
  ) {
    throw refuse(file, `status ${describeValue(String(tenant.status))}`);
  }
  if (!isObject(tenant.settings)) throw refuse(file, 'its settings are not an object');
  const tableOk = (table: unknown) =>
    isObject(table) &&
    typeof table.name === 'string' &&
    (table.type === 'table' || table.type === 'view') &&
    Number.isSafeInteger(table.rows) &&
    typeof table.rowsExact === 'boolean';
  if (!Array.isArray(manifest.tables) || !manifest.tables.every(tableOk)) {
    throw refuse(file, 'its table list is malformed');
  }
  return manifest;
}

/** Reads the manifest and copies out the data entry, checking its size and sha256 on the way. */
async function unpack(file: string, dataFile: string): Promise<ExportManifest> {
  if (!existsSync(file)) throw new NotFoundError(`no file ${file}`);
  let reader: TarReader;
  try {
    reader = await TarReader.open(file);
  } catch (error) {
    throw refuse(file, (error as Error).message);
  }
  try {
    const expect = async (name: string, limit: number): Promise<TarEntry> => {
      const entry = await reader.next();
      if (!entry) throw refuse(file, `it has no ${name}`);
      if (entry.name !== name)
        throw refuse(file, `unexpected entry ${describeValue(entry.name)} (expected ${name})`);
      if (entry.type !== '0' && entry.type !== '\u0000') throw refuse(file, `${name} is not a regular file`);
      if (entry.size > limit) throw refuse(file, `${name} is ${entry.size} bytes (at most ${limit})`);
      return entry;
    };
    const manifest = parseManifest(
      file,
      (await reader.read(await expect(MANIFEST_ENTRY, MAX_MANIFEST_BYTES))).toString('utf8'),
    );
    const data = await expect(manifest.data.file, Number.MAX_SAFE_INTEGER);
    if (data.size !== manifest.data.bytes)
      throw refuse(file, 'the data entry has another size than the manifest says');
    const hash = createHash('sha256');
    const output = createWriteStream(dataFile, { mode: 0o600, flags: 'wx' });
    await reader.copy(
      data,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          output.write(chunk, callback);
        },
        final(callback) {
          output.end(callback);
        },
      }),
    );
    if (hash.digest('hex') !== manifest.data.sha256) {
      throw refuse(file, "the data's sha256 does not match the manifest (damaged or altered)");
    }
    const extra = await reader.next();
    if (extra) throw refuse(file, `unexpected entry ${describeValue(extra.name)} after the data`);
    return manifest;
  } catch (error) {
    if (error instanceof TarFormatError) throw refuse(file, error.message);
    throw error;
  } finally {
    await reader.close();
  }
}

export interface ImportOptions {
  /** The new tenant's id [default: the exported id]. */
  id?: string;
  server?: string;
}

export interface ImportResult extends CopiedData {
  tenant: TenantRecord;
  file: string;
  exportedId: string;
}

/**
 * Creates a tenant from an export: checks the archive (entries, manifest, sha256) and that the
 * id and domains are free and the server's engine is the export's, before anything is created;
 * then createTenant with the data loaded and checked against the manifest, and the settings.
 * Any failure leaves nothing (createTenant's compensation).
 */
export async function importTenant(
  ctx: AftyContext,
  file: string,
  options: ImportOptions,
  hooks: StepHooks = {},
): Promise<ImportResult> {
  const source = path.resolve(file);
  const registry = await ctx.registry();
  const directory = ctx.config.backup.directory;
  await ensureDirectory(directory);
  const dataFile = partialPath(path.join(directory, 'import.data'));
  try {
    const manifest = await unpack(source, dataFile);
    const serverName = options.server ?? (await chooseServer(ctx, registry));
    const server = ctx.servers.get(serverName);
    assertMobile(server, 'tenant import');
    if (server.driver !== manifest.engine) {
      throw new InputError(
        `${source} holds a ${manifest.engine} database but server "${serverName}" is ${server.driver}`,
        { hint: 'import it onto a server of the same engine with --server' },
      );
    }
    const id = options.id ?? manifest.tenant.id;
    if (await registry.findTenant(id)) {
      throw new InputError(`tenant ${id} already exists`, { hint: 'import it under another id with --id' });
    }
    for (const { domain } of manifest.tenant.domains) {
      const owner = await registry.findDomain(domain);
      if (owner) {
        throw new InputError(`domain ${domain} already belongs to tenant ${owner.tenantId}`, {
          hint: 'nothing was created; remove the domain from that tenant first, or import elsewhere',
        });
      }
    }
    let data: CopiedData = { tables: 0, rows: 0 };
    const primaryFirst = [...manifest.tenant.domains].sort((a, b) => Number(b.primary) - Number(a.primary));
    const tenant = await createTenant(
      ctx,
      {
        id,
        name: manifest.tenant.name,
        server: serverName,
        domains: primaryFirst.map((domain) => domain.domain),
        status: manifest.tenant.status,
        copy: { command: 'import', from: source },
      },
      {
        ...hooks,
        extraSteps: populateSteps(
          ctx,
          (created) =>
            loadIntoTenant(ctx, created, {
              path: dataFile,
              manifestPath: source,
              manifest: {
                format: 1,
                tenant: created.id,
                database: created.database,
                server: serverName,
                driver: manifest.engine,
                file: path.basename(dataFile),
                compressed: true,
                createdAt: manifest.createdAt,
                sha256: manifest.data.sha256,
                bytes: manifest.data.bytes,
                durationMs: 0,
                serverVersion: manifest.source.serverVersion,
                dumpTool: manifest.source.dumpTool,
                aftyVersion: manifest.aftyVersion,
                tables: manifest.tables,
                migrations: manifest.migrations,
              },
            }),
          manifest.tenant.settings,
          (copied) => (data = copied),
        ),
      },
    );
    return { tenant, file: source, exportedId: manifest.tenant.id, ...data };
  } finally {
    await rm(dataFile, { force: true });
  }
}

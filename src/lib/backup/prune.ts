import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AftyContext } from '../context.js';
import { InputError } from '../errors.js';
import { listBackups, PARTIAL_SUFFIX, tenantBackupDirectory } from './archive.js';
import { backupDriver } from './drivers.js';
import { MOVED_MARK, safetyCopyDate } from './naming.js';
import type { DatabaseServer } from '../servers/index.js';

const UNIT_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `2w` → milliseconds. */
export function parseAge(value: string): number {
  const match = /^(\d+)([hdw])$/.exec(value.trim());
  if (!match) {
    throw new InputError(`invalid age ${JSON.stringify(value)}: use a number and h, d or w, e.g. 30d`);
  }
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

export interface PruneOptions {
  /** Newest archives (and safety copies) kept per tenant, whatever their age. */
  keep: number;
  /** Anything older goes, except a tenant's newest archive. */
  maxAgeMs: number;
  dryRun: boolean;
  now?: Date;
}

export interface PrunedItem {
  kind: 'archive' | 'safety-copy' | 'moved-copy' | 'partial';
  /** Archive path, safety copy database name, `<server>:<database>` of a moved-away copy, or partial file path. */
  name: string;
  createdAt: string;
  reason: string;
}

export interface PruneResult {
  tenant: string;
  removed: PrunedItem[];
  kept: number;
}

/** Leftovers of a killed dump count as abandoned after this long without a write. */
const PARTIAL_STALE_MS = 86_400_000;

/**
 * Which items of one kind go: everything beyond the newest `keep`, and everything older than
 * the maximum age. `protectNewest` spares the newest even when old (a tenant's last archive).
 */
function selectExpired<T extends { createdAt: Date }>(
  items: T[],
  options: PruneOptions,
  protectNewest: boolean,
): Array<T & { reason: string }> {
  const now = (options.now ?? new Date()).getTime();
  const sorted = [...items].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const expired: Array<T & { reason: string }> = [];
  sorted.forEach((item, index) => {
    if (index >= options.keep) expired.push({ ...item, reason: `beyond the newest ${options.keep}` });
    else if (now - item.createdAt.getTime() > options.maxAgeMs && !(protectNewest && index === 0)) {
      expired.push({ ...item, reason: 'older than the maximum age' });
    }
  });
  return expired;
}

/**
 * Applies retention to one tenant's archives, safety copies (when the tenant still exists) and
 * abandoned partial files. With dryRun nothing is removed; the result says what would be.
 */
export async function pruneBackups(
  ctx: AftyContext,
  tenant: string,
  options: PruneOptions,
): Promise<PruneResult> {
  const removed: PrunedItem[] = [];
  const archives = (await listBackups(ctx.config.backup.directory, tenant)).map((entry) => ({
    entry,
    createdAt: new Date(entry.manifest.createdAt),
  }));
  const expiredArchives = selectExpired(archives, options, true);
  for (const { entry, createdAt, reason } of expiredArchives) {
    if (!options.dryRun) {
      // Manifest first: an archive without one no longer counts as a backup.
      await rm(entry.manifestPath, { force: true });
      await rm(entry.path, { force: true });
    }
    removed.push({ kind: 'archive', name: entry.path, createdAt: createdAt.toISOString(), reason });
  }

  let keptCopies = 0;
  const registry = await ctx.registry();
  const record = await registry.findTenant(tenant);
  const pruneCopies = async (server: DatabaseServer, database: string, all: boolean) => {
    const copies = (await backupDriver(server).safetyCopies(database)).flatMap((name) => {
      const createdAt = safetyCopyDate(database, name);
      return createdAt ? [{ name, createdAt }] : [];
    });
    const expiredCopies = all
      ? copies.map((copy) => ({ ...copy, reason: 'its tenant was deleted' }))
      : selectExpired(copies, options, false);
    for (const { name, createdAt, reason } of expiredCopies) {
      if (!options.dryRun) await server.dropDatabase(name);
      removed.push({ kind: 'safety-copy', name, createdAt: createdAt.toISOString(), reason });
    }
    keptCopies += copies.length - expiredCopies.length;
  };
  if (record) {
    await pruneCopies(ctx.servers.get(record.server), record.database, false);
    // What a tenant move left on the servers it moved away from (<database>$m<time>).
    for (const name of ctx.servers.names) {
      const server = ctx.servers.get(name);
      const moved = (await server.listDatabases(`${record.database}${MOVED_MARK}`)).flatMap((copy) => {
        const createdAt = safetyCopyDate(record.database, copy, MOVED_MARK);
        return createdAt ? [{ name: copy, createdAt }] : [];
      });
      const expired = selectExpired(moved, options, false);
      for (const { name: copy, createdAt, reason } of expired) {
        if (!options.dryRun) await server.dropDatabase(copy);
        removed.push({
          kind: 'moved-copy',
          name: `${name}:${copy}`,
          createdAt: createdAt.toISOString(),
          reason,
        });
      }
      keptCopies += moved.length - expired.length;
    }
  } else {
    // A deleted tenant: its databases are known from its manifests. Safety copies of a database
    // another tenant uses now are that tenant's, and servers no longer configured are left alone.
    const places = new Map(
      archives.map(({ entry }) => [`${entry.manifest.server}\n${entry.manifest.database}`, entry.manifest]),
    );
    for (const { server: serverName, database } of places.values()) {
      if (!ctx.servers.names.includes(serverName)) continue;
      const owners = await registry.listTenants({ server: [serverName] });
      if (owners.some((owner) => owner.database === database)) continue;
      await pruneCopies(ctx.servers.get(serverName), database, true);
    }
  }

  const directory = tenantBackupDirectory(ctx.config.backup.directory, tenant);
  const now = (options.now ?? new Date()).getTime();
  for (const name of await readdir(directory).catch(() => [] as string[])) {
    if (!name.endsWith(PARTIAL_SUFFIX)) continue;
    const file = path.join(directory, name);
    const modified = (await stat(file)).mtime;
    if (now - modified.getTime() < PARTIAL_STALE_MS) continue;
    if (!options.dryRun) await rm(file, { force: true });
    removed.push({
      kind: 'partial',
      name: file,
      createdAt: modified.toISOString(),
      reason: 'left by an interrupted backup',
    });
  }
  return { tenant, removed, kept: archives.length - expiredArchives.length + keptCopies };
}

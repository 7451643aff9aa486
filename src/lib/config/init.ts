import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError, driverMessage } from '../errors.js';
import { parseDatabaseUrl, redactUrl, validateRedisUrl, withoutDatabase } from './urls.js';

export interface InitAnswers {
  central: string;
  server: string;
  redis?: string;
  migrations: string;
  seeds: string;
}

export const INIT_DEFAULTS: InitAnswers = {
  central: 'sqlite:.afty/central.sqlite',
  server: 'sqlite:.afty/tenants',
  redis: undefined,
  migrations: 'migrations/tenant',
  seeds: 'seeds/tenant',
};

export interface ConnectionCheck {
  name: 'central' | 'server' | 'redis';
  url: string;
  ok: boolean;
  detail: string;
}

/** The outermost folder of `dir` that does not exist yet (what mkdir -p would create first). */
function outermostMissing(dir: string): string | undefined {
  let missing: string | undefined;
  for (let current = dir; !existsSync(current); current = path.dirname(current)) missing = current;
  return missing;
}

/** Tests every connection the answers describe; URLs in the results are redacted. */
export async function checkConnections(answers: InitAnswers, baseDir: string): Promise<ConnectionCheck[]> {
  const { createKnex, withKnex } = await import('../servers/knex.js');
  const checks: ConnectionCheck[] = [];
  // Every URL is read before anything connects: a bad one is exit 2 with nothing written.
  const locations = [
    ['central', answers.central, parseDatabaseUrl(answers.central, baseDir, '--central')],
    ['server', answers.server, parseDatabaseUrl(answers.server, baseDir, '--server')],
  ] as const;
  if (answers.redis) validateRedisUrl(answers.redis, '--redis');
  if (locations[0][2].driver === 'mysql' && !locations[0][2].connection.database) {
    throw new InputError('--central names no database for the registry', {
      hint: 'add one to the URL, e.g. mysql://root@127.0.0.1:3306/afty',
    });
  }
  for (const [name, url, location] of locations) {
    if (location.driver === 'sqlite') {
      // For the server, the URL names a folder of tenant files; probe a file inside it. What the
      // probe creates is removed: the registry file is made once the config is written.
      const filename =
        name === 'server' ? path.join(location.filename, '.afty-probe.sqlite') : location.filename;
      const createdFolder = outermostMissing(path.dirname(filename));
      const existed = existsSync(filename);
      const db = await createKnex({ driver: 'sqlite', filename });
      try {
        const rows = (await db.raw('select sqlite_version() as version')) as Array<{ version: string }>;
        checks.push({ name, url, ok: true, detail: `SQLite ${rows[0]!.version}` });
      } catch (error) {
        checks.push({ name, url, ok: false, detail: driverMessage(error) });
      } finally {
        await db.destroy();
        if (!existed) {
          for (const suffix of ['', '-wal', '-shm']) rmSync(`${filename}${suffix}`, { force: true });
        }
        if (createdFolder) rmSync(createdFolder, { recursive: true, force: true });
      }
      continue;
    }
    try {
      const [rows] = (await withKnex(withoutDatabase(location), (db) =>
        db.raw('SELECT VERSION() AS version'),
      )) as [Array<{ version: string }>];
      checks.push({ name, url: redactUrl(url), ok: true, detail: rows[0]!.version });
    } catch (error) {
      checks.push({ name, url: redactUrl(url), ok: false, detail: driverMessage(error) });
    }
  }
  if (answers.redis) {
    const { pingRedis } = await import('../cache/connection.js');
    try {
      const { version } = await pingRedis(answers.redis);
      checks.push({ name: 'redis', url: redactUrl(answers.redis), ok: true, detail: `Redis ${version}` });
    } catch (error) {
      checks.push({
        name: 'redis',
        url: redactUrl(answers.redis),
        ok: false,
        detail: (error as Error).message,
      });
    }
  }
  return checks;
}

/** The config file afty init writes. */
export function initConfigDocument(answers: InitAnswers): Record<string, unknown> {
  return {
    central: answers.central,
    servers: { default: answers.server },
    tenancy: { databasePrefix: 'tenant_', tenantUsers: true },
    migrations: {
      directory: answers.migrations,
      snapshot: path.posix.join(answers.migrations, 'schema.sql'),
    },
    seeds: { directory: answers.seeds },
    ...(answers.redis ? { cache: { url: answers.redis, prefix: 'afty:' } } : {}),
    backup: { directory: 'backups', keep: 10, maxAgeDays: 30 },
  };
}

/** Writes the config file; refuses to replace one unless `force`. Mode 0600: it may hold passwords. */
export function writeConfigFile(file: string, answers: InitAnswers, force: boolean): void {
  if (existsSync(file) && !force) {
    throw new InputError(`${file} already exists`, { hint: 'pass --force to overwrite it' });
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(initConfigDocument(answers), null, 2)}\n`, { mode: 0o600 });
}

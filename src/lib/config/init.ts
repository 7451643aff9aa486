import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { ConfigError, InputError, driverMessage } from '../errors.js';
import type { AftyConfig } from './index.js';
import { DATABASE_PREFIX } from './schema.js';
import {
  describeLocation,
  parseDatabaseUrl,
  registryDatabaseHint,
  redactUrl,
  validateRedisUrl,
  withoutDatabase,
  type DatabaseLocation,
} from './urls.js';

export interface InitAnswers {
  central: string;
  server: string;
  redis?: string;
  migrations: string;
  seeds: string;
  databasePrefix: string;
}

export const INIT_DEFAULTS: InitAnswers = {
  central: 'sqlite:.afty/central.sqlite',
  server: 'sqlite:.afty/tenants',
  redis: undefined,
  migrations: 'migrations/tenant',
  seeds: 'seeds/tenant',
  databasePrefix: 'tenant_',
};

/** The tenant database prefix, checked as the config file's schema checks it. */
export function validateDatabasePrefix(value: string, source: string): string {
  if (!DATABASE_PREFIX.pattern.test(value)) {
    throw new InputError(`${source} ${JSON.stringify(value)} is not valid: ${DATABASE_PREFIX.message}`);
  }
  return value;
}

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

/** What init tests: a database (the central registry or a tenant server) or Redis. */
export interface ConnectionTarget {
  name: 'central' | 'server';
  /** For display: no password. */
  url: string;
  location: DatabaseLocation;
}

/** Tests every connection the answers describe; URLs in the results are redacted. */
export async function checkConnections(answers: InitAnswers, baseDir: string): Promise<ConnectionCheck[]> {
  // Every URL is read before anything connects: a bad one is exit 2 with nothing written.
  const targets: ConnectionTarget[] = [
    {
      name: 'central',
      url: answers.central,
      location: parseDatabaseUrl(answers.central, baseDir, '--central'),
    },
    { name: 'server', url: answers.server, location: parseDatabaseUrl(answers.server, baseDir, '--server') },
  ];
  if (answers.redis) validateRedisUrl(answers.redis, '--redis');
  const central = targets[0]!.location;
  const registryHint = registryDatabaseHint(central);
  if (registryHint)
    throw new InputError('--central names no database for the registry', { hint: registryHint });
  return checkTargets(targets, answers.redis);
}

/** Tests each database and Redis a loaded config names (init on an existing config). */
export function checkConfigConnections(config: AftyConfig): Promise<ConnectionCheck[]> {
  return checkTargets(
    [
      { name: 'central', url: describeLocation(config.central), location: config.central },
      ...config.servers.map((server): ConnectionTarget => ({
        name: 'server',
        url: describeLocation(server.location),
        location: server.location,
      })),
    ],
    config.cache.url,
  );
}

async function checkTargets(
  targets: ConnectionTarget[],
  redis: string | undefined,
): Promise<ConnectionCheck[]> {
  const [{ createKnex, withKnex }, { engineFor }] = await Promise.all([
    import('../servers/knex.js'),
    import('../servers/engines/index.js'),
  ]);
  const checks: ConnectionCheck[] = [];
  for (const { name, url, location } of targets) {
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
      const version = await withKnex(withoutDatabase(location), (db) =>
        engineFor(location).introspection.version(db),
      );
      checks.push({ name, url: redactUrl(url), ok: true, detail: version });
    } catch (error) {
      checks.push({ name, url: redactUrl(url), ok: false, detail: driverMessage(error) });
    }
  }
  if (redis) {
    const { pingRedis } = await import('../cache/connection.js');
    try {
      const { version } = await pingRedis(redis);
      checks.push({ name: 'redis', url: redactUrl(redis), ok: true, detail: `Redis ${version}` });
    } catch (error) {
      checks.push({ name: 'redis', url: redactUrl(redis), ok: false, detail: (error as Error).message });
    }
  }
  return checks;
}

/** The config file afty init writes for a new project. */
export function initConfigDocument(answers: InitAnswers): Record<string, unknown> {
  return {
    central: answers.central,
    servers: { default: answers.server },
    tenancy: { databasePrefix: answers.databasePrefix, tenantUsers: true },
    migrations: {
      directory: answers.migrations,
      snapshot: path.posix.join(answers.migrations, 'schema.sql'),
    },
    seeds: { directory: answers.seeds },
    ...(answers.redis ? { cache: { url: answers.redis, prefix: 'afty:' } } : {}),
    backup: { directory: 'backups', keep: 10, maxAgeDays: 30 },
  };
}

type Document = Record<string, unknown>;

const isObject = (value: unknown): value is Document =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An existing afty.config.json as an object (init --force rewrites JSON files only). */
export function readConfigDocument(file: string): Document {
  if (!file.endsWith('.json')) {
    throw new InputError(`afty init --force rewrites JSON config files only, not ${file}`, {
      hint: 'edit the file yourself, or run afty init without --force to create the registry it names',
    });
  }
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, {
      hint: 'fix it (afty tenant list shows where it is wrong), then run afty init --force again',
    });
  }
  if (!isObject(document)) throw new ConfigError(`${file} does not hold a JSON object`);
  return document;
}

/** What an existing config file says for each question init asks, where it says it as init would. */
export function answersOf(document: Document): Partial<InitAnswers> {
  const section = (key: string) => (isObject(document[key]) ? (document[key] as Document) : {});
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const server = section('servers').default;
  return {
    central: text(document.central),
    server: text(server) ?? (isObject(server) ? text(server.url) : undefined),
    redis: text(section('cache').url),
    migrations: text(section('migrations').directory),
    seeds: text(section('seeds').directory),
    databasePrefix: text(section('tenancy').databasePrefix),
  };
}

/**
 * The existing document with what changed put in, and nothing else touched: an answer equal to
 * what the file already means (its value, or the default when it has none) leaves the file alone,
 * and keys init does not ask about (the cache prefix, other servers, limits…) stay, in their
 * order. The snapshot follows the migrations folder only when it was that folder's schema.sql.
 */
export function updatedConfigDocument(existing: Document, answers: InitAnswers): Document {
  const document: Document = structuredClone(existing);
  const section = (key: string): Document => {
    if (!isObject(document[key])) document[key] = {};
    return document[key] as Document;
  };
  const before = answersOf(existing);
  const changed = (key: keyof InitAnswers) =>
    (answers[key] ?? '') !== (before[key] ?? (key === 'redis' ? '' : INIT_DEFAULTS[key]));
  if (changed('central')) document.central = answers.central;
  if (changed('server')) {
    const servers = section('servers');
    if (isObject(servers.default) && typeof servers.default.url === 'string')
      servers.default.url = answers.server;
    else servers.default = answers.server;
  }
  if (changed('databasePrefix')) section('tenancy').databasePrefix = answers.databasePrefix;
  if (changed('migrations')) {
    const migrations = section('migrations');
    const oldSnapshot = path.posix.join(before.migrations ?? INIT_DEFAULTS.migrations, 'schema.sql');
    migrations.directory = answers.migrations;
    if (migrations.snapshot === undefined || migrations.snapshot === oldSnapshot)
      migrations.snapshot = path.posix.join(answers.migrations, 'schema.sql');
  }
  if (changed('seeds')) section('seeds').directory = answers.seeds;
  if (changed('redis')) {
    if (answers.redis) section('cache').url = answers.redis;
    else delete section('cache').url;
  }
  return document;
}

/** The folders a config names, by key, resolved against the config's folder. */
export function documentDirectories(document: Document, baseDir: string): Array<[string, string]> {
  const answers = answersOf(document);
  const backup = isObject(document.backup) ? document.backup.directory : undefined;
  return [
    ['migrations.directory', path.resolve(baseDir, answers.migrations ?? INIT_DEFAULTS.migrations)],
    ['seeds.directory', path.resolve(baseDir, answers.seeds ?? INIT_DEFAULTS.seeds)],
    ['backup.directory', path.resolve(baseDir, typeof backup === 'string' ? backup : 'backups')],
  ];
}

/**
 * Each folder is a writable directory, or can be created (its nearest existing parent is one):
 * found now rather than at the first migration or backup. Exit 2 naming the key and the path.
 */
export function checkDirectories(directories: Array<[string, string]>): void {
  for (const [key, directory] of directories) {
    let existing = directory;
    while (!existsSync(existing)) existing = path.dirname(existing);
    const problem = !statSync(existing).isDirectory()
      ? `${existing} is not a directory`
      : !writable(existing)
        ? `${existing} is not writable by this user`
        : undefined;
    if (problem) {
      throw new InputError(`${key} ${directory} cannot be used: ${problem}`, {
        hint: `choose another folder (${key === 'backup.directory' ? `${key} in the config` : `--${key.split('.')[0]}`}) or fix the permissions`,
      });
    }
  }
}

/**
 * Creates the migrations and seeds folders the config names, when missing: a folder the config
 * names must exist (a missing one is exit 2 at the first migrate or seed, so a typo never reads
 * as "no migrations"), and init is what names them. Returns the folders it created.
 */
export function createScriptDirectories(directories: Array<[string, string]>): string[] {
  const created: string[] = [];
  for (const [key, directory] of directories) {
    if (key === 'backup.directory' || existsSync(directory)) continue;
    mkdirSync(directory, { recursive: true });
    created.push(directory);
  }
  return created;
}

function writable(directory: string): boolean {
  try {
    accessSync(directory, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the config file with mode 0600 (it may hold passwords), a replaced one included: the new
 * text goes to a private file beside it, renamed over the old one, so no reader ever sees half a
 * file or a moment of wider permissions.
 */
export function writeConfigFile(file: string, document: Document): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
}

import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { ParseError } from 'jsonc-parser';
import { ConfigError } from '../errors.js';
import { parseDurationSeconds } from '../validation/index.js';
import { closestMatch } from '../validation/suggest.js';
import { configFileSchema, KNOWN_KEYS, type ConfigFile } from './schema.js';
import { engineFor } from '../servers/engines/index.js';
import { parseDatabaseSpec, registryDatabaseHint, validateRedisUrl, type DatabaseLocation } from './urls.js';

export {
  redactUrl,
  describeLocation,
  connectionUrl,
  withoutDatabase,
  type DatabaseLocation,
  type NetworkConnection,
} from './urls.js';

export const CONFIG_FILE_NAMES = [
  'afty.config.json',
  '.aftyrc.json',
  'afty.config.js',
  'afty.config.mjs',
  'afty.config.cjs',
] as const;

export interface ServerConfig {
  name: string;
  location: DatabaseLocation;
  /** The most tenants a fleet run works on at once on this server. */
  concurrency?: number;
}

export interface StanclRegistryConfig {
  tenantsTable: string;
  domainsTable: string;
  /** stancl's tenancy.database.prefix / suffix: the database name of a tenant without tenancy_db_name. */
  databasePrefix: string;
  databaseSuffix: string;
  /** The app's tenancy.id_generator: `uuid` (UUIDGenerator) lets `tenant create` omit the id. */
  idGenerator?: 'uuid';
}

export interface MappingRegistryConfig {
  table: string;
  id: string;
  database: string;
  name?: string;
  status?: string;
  createdAt?: string;
  updatedAt?: string;
  domains?: { table: string; domain: string; tenant: string; primary?: string };
}

export type RegistryConfig =
  | { kind: 'afty' }
  | { kind: 'stancl'; stancl: StanclRegistryConfig }
  | { kind: 'mapping'; mapping: MappingRegistryConfig };

export interface AftyConfig {
  /** The config file that was loaded, if any. */
  file?: string;
  /** Relative paths in the config resolve against this folder (the file's, else the cwd). */
  baseDir: string;
  central: DatabaseLocation;
  servers: ServerConfig[];
  /**
   * `mode`: how tenants are kept apart on PostgreSQL servers — a database each (the default) or
   * a schema each in the one database the server URL names. MySQL and SQLite always use databases.
   */
  tenancy: { databasePrefix: string; tenantUsers: boolean; userHost: string; mode: 'database' | 'schema' };
  /** Where the tenants and domains live: afty's own tables, stancl/tenancy's, or a mapped table. */
  registry: RegistryConfig;
  /**
   * `required`: the directory was set in the config, so a missing one is a typo (exit 2), not a
   * project without migrations or seeders.
   */
  migrations: { directory: string; snapshot: string; required: boolean };
  seeds: { directory: string; required: boolean };
  /** `cluster`: cache.url is a seed node of a Redis Cluster (the other nodes are discovered). */
  cache: { url?: string; prefix: string; connectTimeoutMs: number; cluster: boolean };
  backup: { directory: string; keep: number; maxAgeDays: number };
  concurrency: number;
  /** The number of shards when the shard index comes from the environment (Kubernetes). */
  shards?: number;
  /** Run records: kept this many days (afty runs prune); `record` false turns them off. */
  runs: { keepDays: number; record: boolean };
  /**
   * `tenantMs`: how long one tenant's part of a fleet run may take (none: no limit). `queryMs`:
   * how long a statement or dump may wait for its server before afty checks the server is alive.
   */
  timeouts: { tenantMs?: number; queryMs: number };
  /** afty test limits set in the file (defaults live with the checks). */
  checks: { sample?: number; maxLatencyMs?: number; maxConnectMs?: number; maxErrorRate?: number };
  /** Key for stored tenant credentials (AFTY_SECRET). Never printed. */
  secret?: string;
  /** Non-fatal findings, e.g. unknown keys. */
  warnings: string[];
}

export interface LoadConfigOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** --config flag: wins over AFTY_CONFIG and discovery. */
  configPath?: string;
}

export const DEFAULT_CONCURRENCY = Math.min(4, os.availableParallelism() * 2);

/** Reads `.env` from the folder without overriding variables already set. */
export function readDotEnv(cwd: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return env;
  let parsed: NodeJS.Dict<string>;
  try {
    parsed = parseEnv(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return { ...parsed, ...env };
}

/** Finds the config file: explicit path, else the first known name from cwd upward. */
export function findConfigFile(cwd: string, explicit?: string): string | undefined {
  if (explicit) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file))
      throw new ConfigError(`config file ${file} does not exist`, { hint: 'check --config / AFTY_CONFIG' });
    return file;
  }
  let dir = path.resolve(cwd);
  for (;;) {
    for (const name of CONFIG_FILE_NAMES) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Where a JSON text first goes wrong, as `FILE:LINE:COLUMN: what` (the form editors and terminals
 * jump to). V8's messages give a character offset, and for a bad literal (`tru`) not even that;
 * jsonc-parser, in strict mode (no comments, no trailing commas), names the place of every error.
 */
async function jsonSyntaxError(file: string, text: string, parseError: Error): Promise<ConfigError> {
  const { parse, printParseErrorCode } = await import('jsonc-parser');
  const errors: ParseError[] = [];
  parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  const offset = first?.offset ?? Number(/at position (\d+)/.exec(parseError.message)?.[1] ?? 0);
  const what = first
    ? printParseErrorCode(first.error)
        .replace(/([a-z])([A-Z])/g, '$1 $2')
        .toLowerCase()
    : parseError.message.replace(/ in JSON at position \d+.*$/s, '');
  const before = text.slice(0, offset).split('\n');
  return new ConfigError(`${file}:${before.length}:${before.at(-1)!.length + 1}: not valid JSON: ${what}`, {
    hint: 'fix the file (afty reads plain JSON: no comments, no trailing commas)',
  });
}

async function readConfigFile(file: string): Promise<unknown> {
  if (file.endsWith('.json')) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw await jsonSyntaxError(file, text, error as Error);
    }
  }
  try {
    const { pathToFileURL } = await import('node:url');
    const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
    return module.default ?? module;
  } catch (error) {
    throw new ConfigError(`cannot load ${file}: ${(error as Error).message}`);
  }
}

/** Every key path the file format knows, e.g. `tenancy.databasePrefix` (servers' own keys aside). */
const KNOWN_PATHS = Object.entries(KNOWN_KEYS).flatMap(([section, keys]) =>
  section.includes('*') ? [] : keys.map((key) => (section ? `${section}.${key}` : key)),
);

/**
 * The key an unknown one most likely meant: a near spelling in its own section, else the same or a
 * near name in another section (`databasePrefix` at the top level is `tenancy.databasePrefix`).
 */
function suggestKey(parent: string, section: string, key: string): string | undefined {
  const sibling = closestMatch(key, KNOWN_KEYS[section] ?? []);
  if (sibling !== undefined) return parent ? `${parent}.${sibling}` : sibling;
  const leaf = (keyPath: string) => keyPath.slice(keyPath.lastIndexOf('.') + 1);
  const elsewhere = closestMatch(key, new Set(KNOWN_PATHS.map(leaf)));
  return elsewhere === undefined ? undefined : KNOWN_PATHS.find((keyPath) => leaf(keyPath) === elsewhere);
}

/** One warning per unknown key, at any depth the format defines, each with a suggestion when one is near. */
function unknownKeyWarnings(data: Record<string, unknown>, file: string): string[] {
  const warnings: string[] = [];
  const check = (object: unknown, parent: string, section: string) => {
    if (!object || typeof object !== 'object' || Array.isArray(object)) return;
    const known = KNOWN_KEYS[section] ?? [];
    for (const [key, value] of Object.entries(object)) {
      const keyPath = parent ? `${parent}.${key}` : key;
      if (!known.includes(key)) {
        const suggestion = suggestKey(parent, section, key);
        warnings.push(
          `${file}: unknown key "${keyPath}" (ignored)${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
        );
      } else if (section === '' && key === 'servers' && value && typeof value === 'object') {
        for (const [name, server] of Object.entries(value)) check(server, `servers.${name}`, 'servers.*');
      } else {
        const inner = section ? `${section}.${key}` : key;
        if (KNOWN_KEYS[inner]) check(value, keyPath, inner);
      }
    }
  };
  check(data, '', '');
  return warnings;
}

function registryConfig(data: ConfigFile['registry'], label: string): RegistryConfig {
  const kind = data?.kind ?? 'afty';
  if (kind === 'stancl') {
    return {
      kind,
      stancl: {
        tenantsTable: data?.stancl?.tenantsTable ?? 'tenants',
        domainsTable: data?.stancl?.domainsTable ?? 'domains',
        // stancl's defaults (config/tenancy.php): tenant + id.
        databasePrefix: data?.stancl?.databasePrefix ?? 'tenant',
        databaseSuffix: data?.stancl?.databaseSuffix ?? '',
        ...(data?.stancl?.idGenerator ? { idGenerator: data.stancl.idGenerator } : {}),
      },
    };
  }
  if (kind === 'mapping') {
    if (!data?.mapping) {
      throw new ConfigError(`${label}: registry.kind "mapping" needs registry.mapping`, {
        hint: 'give at least {"table": …, "id": …, "database": …}; see docs/registries.md',
      });
    }
    return { kind, mapping: data.mapping };
  }
  return { kind: 'afty' };
}

/** A duration from the config: seconds as a number, or a string like 90s, 10m, 2h. */
function parseDuration(value: string | number, source: string): number {
  if (typeof value === 'number') return value * 1000;
  try {
    return parseDurationSeconds(value, source) * 1000;
  } catch (error) {
    throw new ConfigError((error as Error).message.replace(/^invalid /, ''));
  }
}

function parseConcurrency(value: string, source: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 256) {
    throw new ConfigError(`${source} must be a whole number from 1 to 256 (got ${JSON.stringify(value)})`);
  }
  return number;
}

/**
 * Loads configuration with the precedence flags > environment > file > defaults.
 * Flags are applied by the commands that own them; this resolves env, file and defaults.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<AftyConfig> {
  const cwd = options.cwd ?? process.cwd();
  if (options.configPath?.trim() === '') {
    throw new ConfigError('--config is empty', { hint: 'give the config file, or leave --config out' });
  }
  const given = options.env ?? process.env;
  const env = readDotEnv(cwd, given);
  /** The name of a variable as messages give it: with the .env file when it came from there. */
  const variable = (name: string) =>
    given[name] === undefined ? `${name} in ${path.join(cwd, '.env')}` : name;
  const file = findConfigFile(cwd, options.configPath ?? env.AFTY_CONFIG);
  const baseDir = file ? path.dirname(file) : cwd;
  const label = file ?? 'config';

  let data: ConfigFile = {};
  const warnings: string[] = [];
  if (file) {
    const raw = await readConfigFile(file);
    const result = configFileSchema.safeParse(raw);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const key = issue.path.map(String).join('.') || '(root)';
      throw new ConfigError(`${label}: "${key}": ${issue.message}`);
    }
    data = result.data;
    warnings.push(...unknownKeyWarnings(raw as Record<string, unknown>, file));
  }

  const resolve = (relative: string) => path.resolve(baseDir, relative);
  const centralSpec = env.AFTY_CENTRAL_URL || data.central || 'sqlite:.afty/central.sqlite';
  const centralKey = env.AFTY_CENTRAL_URL ? variable('AFTY_CENTRAL_URL') : `${label}: central`;
  const central = parseDatabaseSpec(centralSpec, baseDir, centralKey);

  const serverSpecs = { ...(data.servers ?? { default: 'sqlite:.afty/tenants' }) };
  if (env.AFTY_SERVER_URL) serverSpecs.default = env.AFTY_SERVER_URL;
  const servers = Object.entries(serverSpecs).map(([name, spec]): ServerConfig => {
    const key =
      name === 'default' && env.AFTY_SERVER_URL ? variable('AFTY_SERVER_URL') : `${label}: servers.${name}`;
    const location = parseDatabaseSpec(
      typeof spec === 'object' && 'url' in spec ? spec.url : spec,
      baseDir,
      key,
    );
    const concurrency = typeof spec === 'object' && 'concurrency' in spec ? spec.concurrency : undefined;
    return concurrency === undefined ? { name, location } : { name, location, concurrency };
  });

  const redisUrl = env.AFTY_REDIS_URL || data.cache?.url;
  if (redisUrl) {
    validateRedisUrl(redisUrl, env.AFTY_REDIS_URL ? variable('AFTY_REDIS_URL') : `${label}: cache.url`);
  }
  const registryHint = registryDatabaseHint(central);
  if (registryHint)
    throw new ConfigError(`${centralKey} names no database for the registry`, { hint: registryHint });
  const tenancyMode = data.tenancy?.mode ?? 'database';
  if (tenancyMode === 'schema') {
    for (const server of servers) {
      if (server.location.driver !== 'postgres') {
        throw new ConfigError(
          `${label}: tenancy.mode "schema" needs PostgreSQL servers, but server "${server.name}" is ${engineFor(server.location).label}`,
          { hint: 'remove tenancy.mode (a database per tenant) or point the server at PostgreSQL' },
        );
      }
      if (!server.location.connection.database) {
        throw new ConfigError(
          `${label}: server "${server.name}" names no database: tenancy.mode "schema" keeps every tenant's schema in the database the URL names`,
          { hint: 'add one to the URL, e.g. postgres://postgres@127.0.0.1:5432/app' },
        );
      }
    }
  }

  return {
    file,
    baseDir,
    central,
    servers,
    tenancy: {
      databasePrefix: data.tenancy?.databasePrefix ?? 'tenant_',
      tenantUsers: data.tenancy?.tenantUsers ?? true,
      userHost: data.tenancy?.userHost ?? '%',
      mode: tenancyMode,
    },
    registry: registryConfig(data.registry, label),
    migrations: {
      directory: resolve(data.migrations?.directory ?? 'migrations/tenant'),
      snapshot: resolve(data.migrations?.snapshot ?? 'migrations/tenant/schema.sql'),
      required: data.migrations?.directory !== undefined,
    },
    seeds: {
      directory: resolve(data.seeds?.directory ?? 'seeds/tenant'),
      required: data.seeds?.directory !== undefined,
    },
    cache: {
      url: redisUrl || undefined,
      prefix: data.cache?.prefix ?? 'afty:',
      connectTimeoutMs: data.cache?.connectTimeoutMs ?? 2000,
      cluster: data.cache?.cluster ?? false,
    },
    backup: {
      directory: resolve(data.backup?.directory ?? 'backups'),
      keep: data.backup?.keep ?? 10,
      maxAgeDays: data.backup?.maxAgeDays ?? 30,
    },
    concurrency: env.AFTY_CONCURRENCY
      ? parseConcurrency(env.AFTY_CONCURRENCY, 'AFTY_CONCURRENCY')
      : (data.concurrency ?? DEFAULT_CONCURRENCY),
    shards: data.shards,
    runs: { keepDays: data.runs?.keepDays ?? 90, record: data.runs?.record ?? true },
    timeouts: {
      tenantMs:
        data.timeouts?.tenant === undefined
          ? undefined
          : parseDuration(data.timeouts.tenant, `${label}: timeouts.tenant`),
      queryMs: data.timeouts?.queryMs ?? 60_000,
    },
    checks: {
      sample: data.checks?.sample,
      maxLatencyMs: data.checks?.maxLatencyMs,
      maxConnectMs: data.checks?.maxConnectMs,
      maxErrorRate: data.checks?.maxErrorRate,
    },
    secret: env.AFTY_SECRET || undefined,
    warnings,
  };
}

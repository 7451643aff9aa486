import { z } from 'zod';

const connectionSpec = z.union([
  z.string().min(1),
  z.object({ client: z.string(), connection: z.union([z.string(), z.record(z.string(), z.unknown())]) }),
]);

/** A server: its URL or knex connection, optionally with the most tenants worked on at once there. */
const serverSpec = z.union([
  connectionSpec,
  z.object({ url: z.string().min(1), concurrency: z.number().int().min(1).max(256).optional() }),
  z.object({
    client: z.string(),
    connection: z.union([z.string(), z.record(z.string(), z.unknown())]),
    concurrency: z.number().int().min(1).max(256).optional(),
  }),
]);

const relativePath = z.string().min(1);
/** A table or column name of an existing registry (always quoted by knex). */
const sqlName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'use a table or column name: letters, digits, _ (≤ 64)');

/** Tenant database names start with this; afty init checks its flag and answer the same way. */
export const DATABASE_PREFIX = {
  pattern: /^[a-z][a-z0-9_]{0,19}$/,
  message: 'use 1-20 characters of a-z, 0-9 or _, a letter first',
};

/**
 * The file format. Objects are loose so unknown keys can be reported as warnings
 * (and by `afty diagnose`) instead of making the whole tool unusable over a typo.
 */
export const configFileSchema = z.looseObject({
  central: connectionSpec.optional(),
  servers: z
    .record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'server names use a-z, 0-9, _ or -'), serverSpec)
    .optional(),
  tenancy: z
    .looseObject({
      databasePrefix: z.string().regex(DATABASE_PREFIX.pattern, DATABASE_PREFIX.message).optional(),
      tenantUsers: z.boolean().optional(),
      userHost: z
        .string()
        .regex(/^[a-zA-Z0-9.%_:-]{1,60}$/, 'a MySQL host pattern such as %, localhost or 10.0.%')
        .optional(),
      mode: z.enum(['database', 'schema']).optional(),
    })
    .optional(),
  registry: z
    .looseObject({
      kind: z.enum(['afty', 'stancl', 'mapping']).optional(),
      stancl: z
        .looseObject({
          tenantsTable: sqlName.optional(),
          idGenerator: z.enum(['uuid']).optional(),
          domainsTable: sqlName.optional(),
          databasePrefix: z
            .string()
            .regex(/^[A-Za-z0-9_$-]{0,32}$/, 'use up to 32 of A-Z, a-z, 0-9, _, $ or -')
            .optional(),
          databaseSuffix: z
            .string()
            .regex(/^[A-Za-z0-9_$-]{0,32}$/, 'use up to 32 of A-Z, a-z, 0-9, _, $ or -')
            .optional(),
        })
        .optional(),
      mapping: z
        .looseObject({
          table: sqlName,
          id: sqlName,
          database: sqlName,
          name: sqlName.optional(),
          status: sqlName.optional(),
          createdAt: sqlName.optional(),
          updatedAt: sqlName.optional(),
          domains: z
            .looseObject({
              table: sqlName,
              domain: sqlName,
              tenant: sqlName,
              primary: sqlName.optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
  migrations: z
    .looseObject({ directory: relativePath.optional(), snapshot: relativePath.optional() })
    .optional(),
  seeds: z.looseObject({ directory: relativePath.optional() }).optional(),
  cache: z
    .looseObject({
      url: z.string().min(1).optional(),
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_.:-]{0,32}$/, 'use up to 32 characters of letters, digits, _ . : -')
        .optional(),
      connectTimeoutMs: z.number().int().min(100).max(60000).optional(),
      cluster: z.boolean().optional(),
    })
    .optional(),
  backup: z
    .looseObject({
      directory: relativePath.optional(),
      keep: z.number().int().min(1).max(10000).optional(),
      maxAgeDays: z.number().int().min(1).max(36500).optional(),
    })
    .optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
  /** Run records: how long they are kept (afty runs prune). */
  runs: z
    .looseObject({ keepDays: z.number().int().min(1).max(36500).optional(), record: z.boolean().optional() })
    .optional(),
  /** How many shards a fleet run is split into when the shard comes from JOB_COMPLETION_INDEX. */
  shards: z.number().int().min(1).max(10000).optional(),
  /** Per-tenant limit of fleet runs (a duration: 90s, 10m, 2h) and the wait that makes afty check a server. */
  timeouts: z
    .looseObject({
      tenant: z.union([z.string().min(1), z.number().int().min(1)]).optional(),
      queryMs: z.number().int().min(100).max(86_400_000).optional(),
    })
    .optional(),
  /** afty test limits; flags win. maxErrorRate is a percentage. */
  checks: z
    .looseObject({
      sample: z.number().int().min(1).max(1000).optional(),
      maxLatencyMs: z.number().int().min(1).optional(),
      maxConnectMs: z.number().int().min(1).optional(),
      maxErrorRate: z.number().min(0).max(100).optional(),
    })
    .optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;

/**
 * Keys the schema knows, by section, for unknown-key warnings and their suggestions. `servers.*`
 * is any one server given as an object.
 */
export const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': [
    '$schema',
    'central',
    'servers',
    'tenancy',
    'registry',
    'migrations',
    'seeds',
    'cache',
    'backup',
    'concurrency',
    'shards',
    'runs',
    'timeouts',
    'checks',
  ],
  central: ['client', 'connection'],
  'servers.*': ['url', 'concurrency', 'client', 'connection'],
  timeouts: ['tenant', 'queryMs'],
  runs: ['keepDays', 'record'],
  tenancy: ['databasePrefix', 'tenantUsers', 'userHost', 'mode'],
  registry: ['kind', 'stancl', 'mapping'],
  'registry.stancl': ['tenantsTable', 'domainsTable', 'databasePrefix', 'databaseSuffix', 'idGenerator'],
  'registry.mapping': ['table', 'id', 'database', 'name', 'status', 'createdAt', 'updatedAt', 'domains'],
  'registry.mapping.domains': ['table', 'domain', 'tenant', 'primary'],
  migrations: ['directory', 'snapshot'],
  seeds: ['directory'],
  cache: ['url', 'prefix', 'connectTimeoutMs', 'cluster'],
  backup: ['directory', 'keep', 'maxAgeDays'],
  checks: ['sample', 'maxLatencyMs', 'maxConnectMs', 'maxErrorRate'],
};

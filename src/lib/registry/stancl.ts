import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { StanclRegistryConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { TableLayout } from './table-store.js';
import { toDbTime } from './time.js';

/**
 * JSON as PHP's json_encode writes it (Eloquent's casts, stancl's data column): `/` escaped and
 * every non-ASCII character as \uXXXX, so the rows afty writes are byte for byte Laravel's.
 */
export function phpJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Laravel's timestamps: `Y-m-d H:i:s` in UTC (the default app timezone), no fraction. */
export function laravelTime(date: Date = new Date()): string {
  return toDbTime(date).slice(0, 19);
}

/** Columns ArtFlow's package adds to stancl's tenants table (its custom columns) that afty reads and writes. */
type ArtflowColumn = 'name' | 'status' | 'database_name' | 'settings';

/**
 * registry.kind "stancl": stancl/tenancy v3/v4's central tables as its migrations create them
 * (tenants: id, timestamps, data JSON, custom columns; domains: id, domain, tenant_id,
 * timestamps), plus ArtFlow's extra columns when the tables have them.
 */
export async function stanclLayout(db: Knex, config: StanclRegistryConfig): Promise<TableLayout> {
  const tenants = await columns(db, config.tenantsTable);
  const domains = await columns(db, config.domainsTable);
  for (const column of ['id', 'data']) {
    if (!tenants.has(column)) {
      throw new ConfigError(
        `the ${config.tenantsTable} table has no ${column} column, so it is not stancl/tenancy's`,
        {
          hint: 'check registry.stancl.tenantsTable, or use registry.kind "mapping" (see docs/registries.md)',
        },
      );
    }
  }
  for (const column of ['domain', 'tenant_id']) {
    if (!domains.has(column)) {
      throw new ConfigError(
        `the ${config.domainsTable} table has no ${column} column, so it is not stancl/tenancy's`,
        {
          hint: 'check registry.stancl.domainsTable',
        },
      );
    }
  }
  const has = (name: ArtflowColumn) => (tenants.has(name) ? name : undefined);
  return {
    tenants: config.tenantsTable,
    id: 'id',
    dataColumn: 'data',
    databaseColumn: has('database_name'),
    nameColumn: has('name'),
    statusColumn: has('status'),
    settingsColumn: has('settings'),
    createdAt: tenants.has('created_at') ? 'created_at' : undefined,
    updatedAt: tenants.has('updated_at') ? 'updated_at' : undefined,
    domains: {
      table: config.domainsTable,
      domain: 'domain',
      tenant: 'tenant_id',
      primary: domains.has('is_primary') ? 'is_primary' : undefined,
      createdAt: domains.has('created_at') ? 'created_at' : undefined,
      updatedAt: domains.has('updated_at') ? 'updated_at' : undefined,
    },
    // stancl's UUIDGenerator: a random (version 4) UUID.
    generateId: config.idGenerator === 'uuid' ? () => randomUUID() : undefined,
    databasePrefix: config.databasePrefix,
    // stancl's DatabaseConfig: prefix . tenant key . suffix.
    defaultDatabase: (id) => `${config.databasePrefix}${id}${config.databaseSuffix}`,
    json: phpJson,
    time: laravelTime,
  };
}

/** The columns of an application table; a missing table is a config error naming it. */
export async function columns(db: Knex, table: string): Promise<Set<string>> {
  if (!(await db.schema.hasTable(table))) {
    throw new ConfigError(`the registry table ${table} does not exist in the central database`, {
      hint: 'check "central" and the registry section of the config (see docs/registries.md)',
    });
  }
  return new Set(Object.keys(await db(table).columnInfo()));
}

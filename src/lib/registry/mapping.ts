import type { Knex } from 'knex';
import type { MappingRegistryConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { tenantDatabaseName } from '../tenants/naming.js';
import { columns } from './stancl.js';
import type { TableLayout } from './table-store.js';
import { toDbTime } from './time.js';

/**
 * registry.kind "mapping": a home-grown tenants table (and optionally a domains table) whose
 * columns the config names. Every named column must exist, so a typo fails at open, not later.
 */
export async function mappingLayout(
  db: Knex,
  config: MappingRegistryConfig,
  databasePrefix: string,
): Promise<TableLayout> {
  const require = async (table: string, wanted: Array<[string, string | undefined]>) => {
    const have = await columns(db, table);
    for (const [key, column] of wanted) {
      if (column && !have.has(column)) {
        throw new ConfigError(`registry.mapping.${key}: the ${table} table has no column ${column}`);
      }
    }
  };
  await require(config.table, [
    ['id', config.id],
    ['database', config.database],
    ['name', config.name],
    ['status', config.status],
    ['createdAt', config.createdAt],
    ['updatedAt', config.updatedAt],
  ]);
  const domains = config.domains;
  if (domains) {
    await require(domains.table, [
      ['domains.domain', domains.domain],
      ['domains.tenant', domains.tenant],
      ['domains.primary', domains.primary],
    ]);
  }
  return {
    tenants: config.table,
    id: config.id,
    databaseColumn: config.database,
    nameColumn: config.name,
    statusColumn: config.status,
    createdAt: config.createdAt,
    updatedAt: config.updatedAt,
    domains: domains && {
      table: domains.table,
      domain: domains.domain,
      tenant: domains.tenant,
      primary: domains.primary,
    },
    databasePrefix,
    defaultDatabase: (id) => tenantDatabaseName(databasePrefix, id),
    json: (value) => JSON.stringify(value),
    time: (date) => toDbTime(date),
  };
}

import type { Knex } from 'knex';
import type { AftyConfig } from '../config/index.js';
import { AftyStore } from './afty-store.js';
import { mappingLayout } from './mapping.js';
import { stanclLayout } from './stancl.js';
import type { RegistryStore } from './store.js';
import { TableStore } from './table-store.js';

/** The store of `registry.kind`: the only place that looks at the kind. */
export async function openStore(db: Knex, config: AftyConfig): Promise<RegistryStore> {
  const registry = config.registry;
  const defaultServer = config.servers[0]?.name ?? 'default';
  switch (registry.kind) {
    case 'afty':
      return new AftyStore(db, config.tenancy.databasePrefix);
    case 'stancl':
      return new TableStore(db, await stanclLayout(db, registry.stancl), defaultServer, true);
    case 'mapping':
      return new TableStore(
        db,
        await mappingLayout(db, registry.mapping, config.tenancy.databasePrefix),
        defaultServer,
        false,
      );
  }
}

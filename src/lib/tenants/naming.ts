import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';

/** Database name: prefix + id with `-` → `_` (ids hold no `_`, so the mapping is one-to-one). */
export function tenantDatabaseName(prefix: string, tenantId: string): string {
  const name = `${prefix}${tenantId.replace(/-/g, '_')}`;
  if (name.length > 64) {
    throw new InputError(`database name ${name} is longer than 64 characters`, {
      hint: 'use a shorter tenant id or tenancy.databasePrefix',
    });
  }
  return name;
}

/** MySQL 8 limits user names to 32 characters: long names keep a readable head plus a hash. */
export function tenantUserName(databaseName: string): string {
  if (databaseName.length <= 32) return databaseName;
  const hash = createHash('sha256').update(databaseName).digest('hex').slice(0, 8);
  return `${databaseName.slice(0, 23)}_${hash}`;
}

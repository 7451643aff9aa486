import type { BackupDriver } from '../../../backup/driver.js';
import type { PostgresServer } from './server.js';

export function postgresBackupDriver(server: PostgresServer): BackupDriver {
  throw new Error(`PLACEHOLDER: backups of ${server.name}`);
}

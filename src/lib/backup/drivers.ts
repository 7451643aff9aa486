import type { DatabaseServer } from '../servers/index.js';
import { engineOf } from '../servers/engines/index.js';
import type { BackupDriver } from './driver.js';

export function backupDriver(server: DatabaseServer): BackupDriver {
  return engineOf(server.driver).backup(server);
}

import { MysqlServer, type DatabaseServer, type SqliteServer } from '../servers/index.js';
import type { BackupDriver } from './driver.js';
import { mysqlBackupDriver } from './mysql.js';
import { sqliteBackupDriver } from './sqlite.js';

export function backupDriver(server: DatabaseServer): BackupDriver {
  return server instanceof MysqlServer
    ? mysqlBackupDriver(server)
    : sqliteBackupDriver(server as SqliteServer);
}

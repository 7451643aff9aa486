import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';

interface BackupListJson {
  backups: Array<{
    tenant: string;
    createdAt: string;
    file: string;
    bytes: number;
    sha256: string;
    driver: string;
    database: string;
    server: string;
    tables: number;
    migrations: number;
    durationMs: number;
  }>;
}

export default class BackupList extends BaseCommand<typeof BackupList> {
  static summary = 'List complete backups (those with a manifest), newest first';
  static description =
    'Reads the backup directory, so archives of deleted tenants are listed too. Without --tenant, every tenant folder is listed.';
  static examples = [
    '<%= config.bin %> backup list',
    '<%= config.bin %> backup list --tenant acme',
    '<%= config.bin %> backup list --json',
  ];

  static flags = {
    tenant: Flags.string({
      char: 't',
      multiple: true,
      default: [],
      description: 'tenant id (repeatable; default: all)',
    }),
  };

  async run(): Promise<BackupListJson> {
    const [{ backupTenants, listBackups }, { validateTenantKey }] = await Promise.all([
      import('../../lib/backup/index.js'),
      import('../../lib/validation/index.js'),
    ]);
    const ctx = await this.context();
    const directory = ctx.config.backup.directory;
    const tenants = this.flags.tenant.length
      ? this.flags.tenant.map((id) => validateTenantKey(id))
      : await backupTenants(directory);
    const backups: BackupListJson['backups'] = [];
    for (const tenant of tenants) {
      for (const { path, manifest } of await listBackups(directory, tenant)) {
        backups.push({
          tenant,
          createdAt: manifest.createdAt,
          file: path,
          bytes: manifest.bytes,
          sha256: manifest.sha256,
          driver: manifest.driver,
          database: manifest.database,
          server: manifest.server,
          tables: manifest.tables.length,
          migrations: manifest.migrations.length,
          durationMs: manifest.durationMs,
        });
      }
    }
    if (!this.jsonEnabled()) {
      if (backups.length === 0) {
        this.log(`No backups in ${directory}`);
      } else {
        const { formatBytes, formatDuration, renderTable } = await import('../../lib/ui/output.js');
        const { default: path } = await import('node:path');
        this.log(
          await renderTable({
            columns: [
              { header: 'tenant', kind: 'id' },
              { header: 'created (UTC)', kind: 'id' },
              { header: 'size', kind: 'id' },
              { header: 'tables', kind: 'id' },
              { header: 'migrations', kind: 'id' },
              { header: 'took', kind: 'id' },
              { header: 'file', kind: 'id' },
            ],
            rows: backups.map((backup) => [
              backup.tenant,
              backup.createdAt.replace('T', ' ').replace(/\.\d+Z$/, ''),
              formatBytes(backup.bytes),
              backup.tables,
              backup.migrations,
              formatDuration(backup.durationMs),
              path.relative(process.cwd(), backup.file),
            ]),
          }),
        );
      }
    }
    return { backups };
  }
}

import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

interface BackupCreateJson {
  results: Array<{
    tenant: string;
    status: string;
    durationMs: number;
    error?: string;
    value?: { file: string; manifest: string; bytes: number; sha256: string; tables: number };
  }>;
  totals: { total: number; ok: number; failed: number; skipped: number };
}

export default class BackupCreate extends BaseCommand<typeof BackupCreate> {
  static summary = 'Back up tenant databases to <backup.directory>/<tenant>/<UTC timestamp>.sql.gz';
  static description = `MySQL/MariaDB: mariadb-dump (or mysqldump) with --single-transaction --routines --triggers --hex-blob, streamed through gzip; the password reaches the dump tool through a temporary 0600 option file, never its arguments. SQLite: the online backup API (.sqlite.gz). Each archive gets a manifest (<timestamp>.json) with sha256, size, tables and row counts, server version, applied migrations and duration. A failed or interrupted dump leaves only a hidden .partial file. Exits 1 if any tenant failed, 3 if the dump tool is missing.`;
  static examples = [
    '<%= config.bin %> backup create --tenant acme',
    '<%= config.bin %> backup create --all --concurrency 2',
    '<%= config.bin %> backup create --all --status active --no-compress --json',
  ];
  static audited = true;

  static flags = {
    ...fleetFlags,
    compress: Flags.boolean({
      default: true,
      allowNo: true,
      description: 'gzip the archive (--no-compress writes plain .sql / .sqlite)',
    }),
  };

  async run(): Promise<BackupCreateJson> {
    const [
      { assertClientTools, createBackup, DUMP_TOOLS },
      { fleetOutcome },
      { runFleetWithProgress },
      { formatBytes },
    ] = await Promise.all([
      import('../../lib/backup/index.js'),
      import('../../lib/backup/fleet-output.js'),
      import('../../lib/ui/progress.js'),
      import('../../lib/ui/output.js'),
    ]);
    const tenants = await this.selectTenants(this.flags);
    const ctx = await this.context();
    if (tenants.length === 1) this.auditTenant = tenants[0]!.id;
    await assertClientTools(
      ctx,
      tenants.map((tenant) => tenant.server),
      DUMP_TOOLS,
    );
    const results = await runFleetWithProgress(
      tenants,
      async (tenant, reporter) => {
        reporter.status('dumping');
        const entry = await createBackup(ctx, tenant, {
          compress: this.flags.compress,
          aftyVersion: this.config.version,
        });
        reporter.step(
          `${entry.manifest.file} (${formatBytes(entry.manifest.bytes)})`,
          entry.manifest.durationMs,
        );
        return {
          file: entry.path,
          manifest: entry.manifestPath,
          bytes: entry.manifest.bytes,
          sha256: entry.manifest.sha256,
          tables: entry.manifest.tables.length,
        };
      },
      {
        concurrency: await this.concurrency(this.flags.concurrency),
        bail: this.flags.bail,
        silent: this.jsonEnabled(),
        verb: 'backup',
      },
    );
    const outcome = await fleetOutcome(
      results,
      this.jsonEnabled(),
      (value) => `${value.file} (${formatBytes(value.bytes)})`,
    );
    if (outcome.summary) this.log(outcome.summary);
    if (outcome.exitCode) process.exitCode = outcome.exitCode;
    return outcome.json;
  }
}

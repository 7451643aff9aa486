import { Flags } from '@oclif/core';
import type { FleetJson, FleetTenantJson, LegacyResultJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';

interface CreatedBackup {
  file: string;
  manifest: string;
  bytes: number;
  sha256: string;
  tables: number;
}

type BackupCreateJson = FleetJson<
  FleetTenantJson & { [K in keyof CreatedBackup]: CreatedBackup[K] | null }
> & {
  /** 0.1 shape, kept until 0.3 (docs/json.md). */
  results: Array<LegacyResultJson<CreatedBackup>>;
};

export default class BackupCreate extends FleetCommand<typeof BackupCreate> {
  static summary = 'Back up tenant databases to <backup.directory>/<tenant>/<UTC timestamp>.sql.gz';
  static description = `MySQL/MariaDB: mariadb-dump (or mysqldump) with --single-transaction --routines --triggers --hex-blob, streamed through gzip; the password reaches the dump tool through a temporary 0600 option file, never its arguments. SQLite: the online backup API (.sqlite.gz). PostgreSQL: pg_dump --format=custom of the tenant database or schema (.pgdump.gz), the password in a temporary 0600 PGPASSFILE. Each archive gets a manifest (<timestamp>.json) with sha256, size, tables and row counts, server version, applied migrations and duration. A failed or interrupted dump leaves only a hidden .partial file. Ctrl-C lets running dumps finish; a second Ctrl-C kills them. Exits 1 if any tenant failed, 3 if the dump tool is missing.`;
  static examples = [
    '<%= config.bin %> backup create --tenant acme',
    '<%= config.bin %> backup create --all --concurrency 2',
    '<%= config.bin %> backup create --all --status active --no-compress --json',
  ];
  static audited = true;
  static recordsRuns = true;

  static flags = {
    ...changeFlags,
    compress: Flags.boolean({
      default: true,
      allowNo: true,
      description: 'gzip the archive (--no-compress writes plain .sql / .sqlite)',
    }),
  };

  async run(): Promise<BackupCreateJson> {
    const [{ assertClientTools, createBackup }, { fleetJson, legacyResults }, { formatBytes }] =
      await Promise.all([
        import('../../lib/backup/index.js'),
        import('../../lib/fleet/index.js'),
        import('../../lib/ui/output.js'),
      ]);
    const tenants = await this.selectTenants(this.flags);
    const ctx = await this.context();
    await assertClientTools(
      ctx,
      tenants.map((tenant) => tenant.server),
      'dump',
    );
    const outcome = await this.runOnFleet(
      tenants,
      async (tenant, progress): Promise<CreatedBackup> => {
        const entry = await progress.step(
          'dump',
          () =>
            createBackup(ctx, tenant, { compress: this.flags.compress, aftyVersion: this.config.version }),
          (created) => `${created.manifest.file}, ${formatBytes(created.manifest.bytes)}`,
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
        verb: 'backup',
        detail: (value) => `${value.file} (${formatBytes(value.bytes)})`,
        record: (result) =>
          result.value ? { file: result.value.file, sha256: result.value.sha256 } : undefined,
      },
    );
    return {
      ...fleetJson(
        outcome.results,
        (result) => ({
          file: result.value?.file ?? null,
          manifest: result.value?.manifest ?? null,
          bytes: result.value?.bytes ?? null,
          sha256: result.value?.sha256 ?? null,
          tables: result.value?.tables ?? null,
        }),
        { interrupted: outcome.interrupted },
      ),
      results: legacyResults(outcome.results),
    };
  }
}

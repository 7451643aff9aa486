import { Args } from '@oclif/core';
import type { VerifyResult } from '../../lib/backup/index.js';
import type { FleetResult } from '../../lib/fleet/index.js';
import { BaseCommand } from '../../lib/ui/base-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

interface BackupVerifyJson {
  results: Array<{
    tenant: string;
    status: string;
    durationMs: number;
    error?: string;
    value?: VerifyResult;
  }>;
  totals: { total: number; ok: number; failed: number; skipped: number };
}

export default class BackupVerify extends BaseCommand<typeof BackupVerify> {
  static summary = 'Check a backup: its checksum, then a test restore compared with the manifest';
  static description = `With FILE, verifies that archive (or manifest), also for deleted tenants; otherwise the newest backup of each selected tenant. The test restore goes into a scratch database on the backup's server (<database>$v<random>), which is dropped afterwards. Tables must match the manifest; row counts must match exactly (SQLite) or be close to MySQL's estimates. Exits 1 if any backup fails.`;
  static examples = [
    '<%= config.bin %> backup verify --tenant acme',
    '<%= config.bin %> backup verify --all --json',
    '<%= config.bin %> backup verify backups/acme/20261123T110532.123Z.sql.gz',
  ];

  static args = {
    file: Args.string({ description: 'an archive or its manifest (default: newest per selected tenant)' }),
  };

  static flags = { ...fleetFlags };

  async run(): Promise<BackupVerifyJson> {
    const [{ assertClientTools, latestBackup, LOAD_TOOLS, readBackup, verifyBackup }, { fleetOutcome }] =
      await Promise.all([import('../../lib/backup/index.js'), import('../../lib/backup/fleet-output.js')]);
    const ctx = await this.context();
    let results: Array<FleetResult<VerifyResult>>;
    if (this.args.file) {
      const entry = await readBackup(this.args.file);
      const started = performance.now();
      const value = await verifyBackup(ctx, entry);
      results = [
        { tenant: entry.manifest.tenant, status: 'ok', durationMs: performance.now() - started, value },
      ];
    } else {
      const { runFleetWithProgress } = await import('../../lib/ui/progress.js');
      const tenants = await this.selectTenants(this.flags);
      await assertClientTools(
        ctx,
        tenants.map((tenant) => tenant.server),
        LOAD_TOOLS,
      );
      results = await runFleetWithProgress(
        tenants,
        async (tenant, reporter) => {
          const entry = await latestBackup(ctx.config.backup.directory, tenant.id);
          reporter.status(`verifying ${entry.manifest.file}`);
          const value = await verifyBackup(ctx, entry);
          reporter.step(`${entry.manifest.file}: checksum and ${value.tables.length} tables ok`);
          return value;
        },
        {
          concurrency: await this.concurrency(this.flags.concurrency),
          bail: this.flags.bail,
          silent: this.jsonEnabled(),
          verb: 'verify',
        },
      );
    }
    const outcome = await fleetOutcome(
      results,
      this.jsonEnabled(),
      (value) => `${value.file}: ${value.tables.length} tables match`,
    );
    if (outcome.summary) this.log(outcome.summary);
    if (outcome.exitCode) process.exitCode = outcome.exitCode;
    return outcome.json;
  }
}

import { Args } from '@oclif/core';
import type { BackupEntry, VerifyResult } from '../../lib/backup/index.js';
import type { FleetJson, FleetTenantJson, LegacyResultJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

type BackupVerifyJson = FleetJson<
  FleetTenantJson & { file: string | null; sha256: string | null; tables: VerifyResult['tables'] }
> & {
  /** 0.1 shape, kept until 0.3 (docs/json.md). */
  results: Array<LegacyResultJson<VerifyResult>>;
};

export default class BackupVerify extends FleetCommand<typeof BackupVerify> {
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
    const [{ assertClientTools, latestBackup, readBackup, verifyBackup }, { fleetJson, legacyResults }] =
      await Promise.all([import('../../lib/backup/index.js'), import('../../lib/fleet/index.js')]);
    const ctx = await this.context();
    // With FILE: that archive alone (its tenant may be deleted); else each selected tenant's newest.
    const given = this.args.file ? await readBackup(this.args.file) : undefined;
    const targets = given
      ? [{ id: given.manifest.tenant, server: given.manifest.server }]
      : await this.selectTenants(this.flags);
    await assertClientTools(
      ctx,
      targets.map((target) => target.server).filter((server) => ctx.servers.names.includes(server)),
      'load',
    );
    const outcome = await this.runOnFleet(
      targets,
      async (target, progress) => {
        const entry: BackupEntry = given ?? (await latestBackup(ctx.config.backup.directory, target.id));
        return progress.step(
          `verify ${entry.manifest.file}`,
          () => verifyBackup(ctx, entry),
          (value) => `checksum and ${value.tables.length} tables ok`,
        );
      },
      { verb: 'verify', detail: (value) => `${value.file}: ${value.tables.length} tables match` },
    );
    return {
      ...fleetJson(
        outcome.results,
        (result) => ({
          file: result.value?.file ?? null,
          sha256: result.value?.sha256 ?? null,
          tables: result.value?.tables ?? [],
        }),
        { interrupted: outcome.interrupted },
      ),
      results: legacyResults(outcome.results),
    };
  }
}

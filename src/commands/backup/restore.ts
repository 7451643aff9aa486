import { Flags } from '@oclif/core';
import type { RestoreResult } from '../../lib/backup/index.js';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

type RestoreJson = FleetJson<FleetTenantJson & Partial<Omit<RestoreResult, 'tenant'>>> &
  /** 0.1 shape (the restore's own fields at the top), kept until 0.3 (docs/json.md). */
  Partial<RestoreResult>;

export default class BackupRestore extends FleetCommand<typeof BackupRestore> {
  static summary = "Restore a tenant's database from a backup, keeping the current data as a safety copy";
  static description = `Checks the archive's sha256, loads it into a scratch database, compares it with the manifest, then swaps it in: MySQL moves every table in one atomic RENAME TABLE (current tables into the safety copy <database>$s<timestamp>, restored ones into the tenant database) and recreates views, triggers and routines; SQLite replaces the file with an atomic rename (the old file stays as the safety copy). A failure at any step leaves the tenant as it was. A restore that was killed is ended by the next restore of the tenant (or afty diagnose --fix): rolled back if its tables had not moved yet, finished if they had. --into restores into another existing tenant (clone). Asks for confirmation in a terminal; --force otherwise. Safety copies stay until afty backup prune removes them.`;
  static examples = [
    '<%= config.bin %> backup restore --tenant acme --latest',
    '<%= config.bin %> backup restore --tenant acme --file backups/acme/20261123T110532.123Z.sql.gz --force',
    '<%= config.bin %> backup restore --tenant acme --latest --into acme-staging --force --json',
  ];
  static audited = true;
  static recordsRuns = true;

  static flags = {
    tenant: Flags.string({
      char: 't',
      required: true,
      description: 'the tenant whose backup is restored (may be deleted when --into is given)',
    }),
    file: Flags.string({ description: 'the archive (or its manifest) to restore' }),
    latest: Flags.boolean({ description: "the tenant's newest backup" }),
    into: Flags.string({ description: 'restore into this other tenant instead (id or domain)' }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation' }),
    timeout: fleetFlags.timeout,
  };

  async run(): Promise<RestoreJson> {
    const [{ latestBackup, readBackup, restoreBackup }, { resolveTenant }, { confirmDestructive }, errors] =
      await Promise.all([
        import('../../lib/backup/index.js'),
        import('../../lib/tenants/index.js'),
        import('../../lib/ui/prompts.js'),
        import('../../lib/errors.js'),
      ]);
    if (Boolean(this.flags.file) === Boolean(this.flags.latest)) {
      throw new errors.InputError(
        this.flags.latest ? '--file and --latest cannot be used together' : 'say which backup to restore',
        { hint: 'pass either --file FILE or --latest' },
      );
    }
    const ctx = await this.context();
    const registry = await ctx.registry();
    const { looksLikeTenantId } = await import('../../lib/validation/index.js');
    // The source may be a deleted tenant (its archives outlive it) when restoring into another one.
    const resolved = await resolveTenant(registry, this.flags.tenant).catch((error: unknown) => {
      if (this.flags.into && error instanceof errors.NotFoundError && looksLikeTenantId(this.flags.tenant)) {
        return undefined;
      }
      throw error;
    });
    const source = resolved?.id ?? this.flags.tenant;
    const target = this.flags.into ? await resolveTenant(registry, this.flags.into) : resolved!;
    this.auditTenant = target.id;
    const entry = this.flags.file
      ? await readBackup(this.flags.file)
      : await latestBackup(ctx.config.backup.directory, source);
    if (entry.manifest.tenant !== source) {
      throw new errors.InputError(
        `${entry.path} is a backup of tenant ${entry.manifest.tenant}, not ${source}`,
        {
          hint: `pass --tenant ${entry.manifest.tenant} (add --into ${target.id} to restore it into ${target.id})`,
        },
      );
    }
    await confirmDestructive(
      `replace the data of tenant ${target.id} (database ${target.database}) with the backup of ${source} from ${entry.manifest.createdAt}`,
      this.flags.force,
    );
    const phases = {
      checksum: 'check the archive',
      load: 'load into a scratch database',
      swap: 'swap in',
    } as const;
    const outcome = await this.runOnFleet(
      [target],
      (tenant, progress) => {
        progress.plan(Object.values(phases));
        let running: string | undefined;
        return restoreBackup(ctx, entry, tenant, {
          onPhase: (phase) => {
            if (running) progress.stepFinished(running);
            running = phases[phase];
            progress.stepStarted(running);
          },
        }).then((result) => {
          if (running) progress.stepFinished(running);
          return result;
        });
      },
      { verb: 'restore', quiet: true },
    );
    const [result] = outcome.results;
    if (result!.status === 'ok') {
      if (result!.value!.recovered) this.note(result!.value!.recovered);
      this.log(
        `Restored tenant ${target.id} from ${entry.path}; the previous data is kept as ${result!.value!.safetyCopy} until afty backup prune removes it`,
      );
    } else if (!this.jsonEnabled()) {
      const { renderFleetSummary } = await import('../../lib/ui/fleet.js');
      this.log(await renderFleetSummary(outcome));
    }
    const { fleetJson } = await import('../../lib/fleet/index.js');
    const { tenant: _tenant, ...fields } = result!.value ?? ({} as Partial<RestoreResult>);
    return {
      ...result!.value,
      ...fleetJson(outcome.results, () => fields, { interrupted: outcome.interrupted }),
    };
  }
}

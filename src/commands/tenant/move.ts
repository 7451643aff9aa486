import { Args, Flags } from '@oclif/core';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';
import type { MoveJson } from '../../lib/ui/moves.js';

export default class TenantMove extends FleetCommand<typeof TenantMove> {
  static summary = 'Move tenants to another server: copy, verify, switch the registry, keep the source';
  static description = `Per tenant: maintenance on (unless --no-maintenance, or it is on already), a consistent dump, a load into a scratch database on the target, a check that tables, views, triggers, routines, row counts and checksums equal the source's, the tenant's user on the target, the registry switched in one update, the cache domain lookup rebuilt, maintenance back off. The source database is kept, renamed to <database>$m<time>, until --drop-source or afty backup prune. Killed or failed before the switch, the tenant stays served from the source, unchanged; running the move again (or afty diagnose --fix) undoes or finishes an interrupted one. A fleet move (--all --server old) asks for confirmation in a terminal and needs --force elsewhere; so does --drop-source. Reports each tenant's downtime.`;
  static examples = [
    '<%= config.bin %> tenant move acme --to db2',
    '<%= config.bin %> tenant move --all --server db1 --to db2 --per-server 2 --force',
    '<%= config.bin %> tenant move acme --to db2 --no-maintenance --drop-source --force --json',
  ];
  static audited = true;
  static recordsRuns = true;

  static args = {
    tenant: Args.string({
      description: 'tenant id or domain (or select a fleet with --tenant/--all/--server…)',
    }),
  };

  static flags = {
    ...changeFlags,
    to: Flags.string({ description: 'the server to move to (a name from servers)', required: true }),
    maintenance: Flags.boolean({
      default: true,
      allowNo: true,
      description: 'keep the tenant in maintenance while it moves (--no-maintenance for read-mostly tenants)',
    }),
    'drop-source': Flags.boolean({
      description: 'drop the source database once moved instead of keeping it',
    }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation (a fleet, --drop-source)' }),
  };

  async run(): Promise<MoveJson> {
    const [{ moveTenant }, { moveJson, moveRun }, { confirmDestructive }, { assertClientTools }] =
      await Promise.all([
        import('../../lib/tenants/move.js'),
        import('../../lib/ui/moves.js'),
        import('../../lib/ui/prompts.js'),
        import('../../lib/backup/index.js'),
      ]);
    const ctx = await this.context();
    // An unknown --to is exit 2 before anything is selected or changed.
    ctx.servers.get(this.flags.to);
    const tenants = await this.selectTenants({
      ...this.flags,
      tenant: [...(this.args.tenant === undefined ? [] : [this.args.tenant]), ...(this.flags.tenant ?? [])],
    });
    await assertClientTools(
      ctx,
      tenants.map((tenant) => tenant.server),
      'dump',
    );
    await assertClientTools(ctx, [this.flags.to], 'load');
    if (tenants.length > 1 || this.flags['drop-source']) {
      const count = `${tenants.length} tenant${tenants.length === 1 ? '' : 's'}`;
      await confirmDestructive(
        `move ${count} to server "${this.flags.to}"${this.flags['drop-source'] ? ' and drop their source databases' : ''}`,
        this.flags.force,
      );
    }
    const options = {
      to: this.flags.to,
      maintenance: this.flags.maintenance,
      dropSource: this.flags['drop-source'],
    };
    const outcome = await this.runOnFleet(
      tenants,
      (tenant, progress) => moveTenant(ctx, tenant, options, progress),
      moveRun,
    );
    return moveJson(outcome);
  }
}

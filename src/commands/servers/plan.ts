import { Flags } from '@oclif/core';
import type { BalancePlan } from '../../lib/tenants/balance.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { fleetFlags, runFlags } from '../../lib/ui/flags.js';
import type { MoveJson } from '../../lib/ui/moves.js';

type PlanJson = Omit<BalancePlan, 'moves'> & {
  moves: Array<BalancePlan['moves'][number] & { command: string }>;
  /** With --apply: the moves' run, in the fleet --json contract. */
  applied: MoveJson | null;
};

export default class ServersPlan extends FleetCommand<typeof ServersPlan> {
  static summary = 'Propose tenant moves that even out the servers (--apply runs them)';
  static description =
    "With --balance: the load of each server — the size of its tenants' databases (--by size, the default) or their number (--by count) — and the moves that narrow the gap most: each time the tenant of the most loaded server whose weight comes closest to half the gap to the least loaded one, between servers of the same engine, each tenant at most once. Prints the plan and the afty tenant move commands. --apply runs those moves as one recorded run (as tenant move: maintenance during each move, source kept), asking for confirmation in a terminal and needing --force elsewhere.";
  static examples = [
    '<%= config.bin %> servers plan --balance',
    '<%= config.bin %> servers plan --balance --by count --json',
    '<%= config.bin %> servers plan --balance --apply --per-server 1 --force',
  ];
  static audited = true;
  static recordsRuns = true;

  static flags = {
    balance: Flags.boolean({ description: 'plan moves that balance the servers', required: true }),
    by: Flags.string({ options: ['size', 'count'], default: 'size', description: 'what to balance' }),
    exclude: fleetFlags.exclude,
    apply: Flags.boolean({ description: 'run the planned moves (one run, recorded)' }),
    force: Flags.boolean({ char: 'f', description: 'do not ask for confirmation (with --apply)' }),
    concurrency: fleetFlags.concurrency,
    'per-server': fleetFlags['per-server'],
    timeout: fleetFlags.timeout,
    bail: fleetFlags.bail,
    'run-id': runFlags['run-id'],
  };

  async run(): Promise<PlanJson> {
    const [{ planFleetBalance }, ui, { shellWord }] = await Promise.all([
      import('../../lib/tenants/balance.js'),
      import('../../lib/ui/output.js'),
      import('../../lib/validation/index.js'),
    ]);
    const ctx = await this.context();
    const by = this.flags.by as 'size' | 'count';
    const { placement, ...plan } = await planFleetBalance(ctx, by, this.flags.exclude ?? []);
    const moves = plan.moves.map((move) => ({
      ...move,
      command: `afty tenant move ${shellWord(move.tenant)} --to ${shellWord(move.to)}`,
    }));
    const load = (value: number) => (by === 'size' ? ui.formatBytes(value) : String(value));
    if (!this.jsonEnabled()) {
      for (const server of placement.servers.filter((row) => row.error)) {
        this.notice(`server "${server.name}" left out: ${server.error}`);
      }
      this.log(
        await ui.renderTable({
          columns: [
            { header: 'server', kind: 'id' },
            { header: by === 'size' ? 'size now' : 'tenants now', kind: 'id' },
            { header: 'after', kind: 'id' },
          ],
          rows: plan.servers.map((server) => [server.name, load(server.before), load(server.after)]),
        }),
      );
      this.log(
        moves.length === 0
          ? '\nBalanced: no move would narrow the gap.'
          : `\n${moves.length} move${moves.length === 1 ? '' : 's'}:\n${moves.map((move) => `  ${move.command}    # ${load(move.weight)}, ${move.from} → ${move.to}`).join('\n')}`,
      );
    }
    let applied: PlanJson['applied'] = null;
    if (this.flags.apply && moves.length > 0) {
      const [{ moveTenant }, { moveJson, moveRun }, { confirmDestructive }] = await Promise.all([
        import('../../lib/tenants/move.js'),
        import('../../lib/ui/moves.js'),
        import('../../lib/ui/prompts.js'),
      ]);
      await confirmDestructive(`run ${moves.length} move${moves.length === 1 ? '' : 's'}`, this.flags.force);
      const targets = new Map(moves.map((move) => [move.tenant, move.to]));
      const tenants = placement.tenants.map((row) => row.tenant).filter((tenant) => targets.has(tenant.id));
      const outcome = await this.runOnFleet(
        tenants,
        (tenant, progress) =>
          moveTenant(
            ctx,
            tenant,
            { to: targets.get(tenant.id)!, maintenance: true, dropSource: false },
            progress,
          ),
        moveRun,
      );
      applied = await moveJson(outcome);
    }
    return { ...plan, moves, applied };
  }
}

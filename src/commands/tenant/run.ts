import { Args } from '@oclif/core';
import type { FleetJson, FleetTenantJson, LegacyResultJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { changeFlags } from '../../lib/ui/flags.js';

type OutputLine = { stream: 'stdout' | 'stderr'; line: string };

type TenantRunJson = FleetJson<FleetTenantJson & { output: OutputLine[] }> & {
  command: string[];
  /** 0.1 shape, kept until 0.3 (docs/json.md). */
  results: Array<LegacyResultJson<never> & { output: OutputLine[] }>;
};

export default class TenantRun extends FleetCommand<typeof TenantRun> {
  static summary = "Run a command once per selected tenant, with that tenant's database in its environment";
  static description = `Arguments after -- are passed exactly as given (no shell). Each run sees AFTY_TENANT_ID, AFTY_TENANT_DATABASE, AFTY_TENANT_SERVER, DATABASE_URL and Laravel's DB_CONNECTION, DB_HOST, DB_PORT, DB_DATABASE, DB_USERNAME, DB_PASSWORD, DB_URL (the tenant's own credentials), and of the operator's environment only PATH, HOME, the locale, TZ, TERM and the like: never AFTY_SECRET or the admin URLs. Output lines are prefixed with the tenant id. Exits 1 if the command failed for any tenant.`;
  static examples = [
    '<%= config.bin %> tenant run --all -- node scripts/report.js',
    '<%= config.bin %> tenant run --all -c 8 -- php artisan migrate --force',
    '<%= config.bin %> tenant run -t acme -t beta --concurrency 2 -- sh -c \'echo "$AFTY_TENANT_ID"\'',
  ];
  static strict = false;
  static audited = true;
  static recordsRuns = true;

  static args = {
    command: Args.string({ description: 'the program to run (after --)', required: true }),
  };

  static flags = { ...changeFlags };

  async run(): Promise<TenantRunJson> {
    const [{ fleetJson, legacyResults }, { runTenantCommand }] = await Promise.all([
      import('../../lib/fleet/index.js'),
      import('../../lib/tenants/run.js'),
    ]);
    const { InputError } = await import('../../lib/errors.js');
    const separator = this.argv.indexOf('--');
    if (separator < 0) {
      throw new InputError('put the command after --', {
        hint: 'e.g. afty tenant run --all -- node script.js',
      });
    }
    const { argv } = await this.parse(TenantRun);
    const [command, ...args] = this.argv.slice(separator + 1);
    if (argv.length !== args.length + 1) {
      throw new InputError(`unexpected argument ${JSON.stringify(argv[0])} before --`, {
        hint: 'see afty tenant run --help',
      });
    }
    const tenants = await this.selectTenants(this.flags);
    const ctx = await this.context();
    const json = this.jsonEnabled();
    const output = new Map<string, OutputLine[]>();
    const outcome = await this.runOnFleet(
      tenants,
      (tenant, progress) =>
        progress.step(command!, () =>
          runTenantCommand(ctx, tenant, command!, args, (stream, line) => {
            if (!json) return progress.output(stream, line);
            const lines = output.get(tenant.id) ?? [];
            lines.push({ stream, line });
            output.set(tenant.id, lines);
          }),
        ),
      { verb: `run ${command}` },
    );
    const outputOf = (tenant: string) => output.get(tenant) ?? [];
    return {
      command: [command!, ...args],
      ...fleetJson(outcome.results, (result) => ({ output: outputOf(result.tenant) }), {
        interrupted: outcome.interrupted,
      }),
      results: legacyResults<unknown, never>(outcome.results, () => undefined).map((row) => ({
        ...row,
        output: outputOf(row.tenant),
      })),
    };
  }
}

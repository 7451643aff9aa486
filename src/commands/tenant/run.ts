import { Args } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

interface TenantRunJson {
  command: string[];
  results: Array<{
    tenant: string;
    status: string;
    durationMs: number;
    error?: string;
    output?: Array<{ stream: 'stdout' | 'stderr'; line: string }>;
  }>;
  totals: { total: number; ok: number; failed: number; skipped: number };
}

export default class TenantRun extends BaseCommand<typeof TenantRun> {
  static summary = "Run a command once per selected tenant, with that tenant's database in its environment";
  static description = `Arguments after -- are passed exactly as given (no shell). Each run sees AFTY_TENANT_ID, AFTY_TENANT_DATABASE, AFTY_TENANT_SERVER, DATABASE_URL and Laravel's DB_CONNECTION, DB_HOST, DB_PORT, DB_DATABASE, DB_USERNAME, DB_PASSWORD, DB_URL (the tenant's own credentials), and of the operator's environment only PATH, HOME, the locale, TZ, TERM and the like: never AFTY_SECRET or the admin URLs. Output lines are prefixed with the tenant id. Exits 1 if the command failed for any tenant.`;
  static examples = [
    '<%= config.bin %> tenant run --all -- node scripts/report.js',
    '<%= config.bin %> tenant run --all -c 8 -- php artisan migrate --force',
    '<%= config.bin %> tenant run -t acme -t beta --concurrency 2 -- sh -c \'echo "$AFTY_TENANT_ID"\'',
  ];
  static strict = false;
  static audited = true;

  static args = {
    command: Args.string({ description: 'the program to run (after --)', required: true }),
  };

  static flags = { ...fleetFlags };

  async run(): Promise<TenantRunJson> {
    const [{ runFleet, fleetTotals, fleetResultJson }, { runTenantCommand }] = await Promise.all([
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
    const width = Math.max(0, ...tenants.map((tenant) => tenant.id.length));
    const output = new Map<string, Array<{ stream: 'stdout' | 'stderr'; line: string }>>();

    const results = await runFleet(
      tenants,
      (tenant) =>
        runTenantCommand(ctx, tenant, command!, args, (stream, line) => {
          if (json) {
            const lines = output.get(tenant.id) ?? [];
            lines.push({ stream, line });
            output.set(tenant.id, lines);
            return;
          }
          const prefixed = `[${tenant.id.padEnd(width)}] ${line}\n`;
          (stream === 'stdout' ? process.stdout : process.stderr).write(prefixed);
        }),
      { concurrency: await this.concurrency(this.flags.concurrency), bail: this.flags.bail },
    );
    const totals = fleetTotals(results);
    if (!json) {
      const { renderFleetSummary } = await import('../../lib/ui/fleet.js');
      this.log(await renderFleetSummary(results));
    }
    if (totals.failed > 0) process.exitCode = 1;
    return {
      command: [command!, ...args],
      results: results.map((result) => {
        const { value: _value, ...rest } = fleetResultJson(result);
        return { ...rest, output: output.get(result.tenant) ?? [] };
      }),
      totals,
    };
  }
}

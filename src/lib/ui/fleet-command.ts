import type { Command } from '@oclif/core';
import type { FleetOutcome, FleetTenant, TenantWork } from '../fleet/index.js';
import { InputError } from '../errors.js';
import { BaseCommand } from './base-command.js';
import type { FleetSummaryOptions } from './fleet.js';

/** The scheduling flags of fleetFlags, as parsed (commands may take a subset). */
interface SchedulingFlagValues {
  concurrency?: number;
  'per-server'?: number;
  timeout?: string;
  bail?: boolean;
  canary?: number;
  'canary-tenants'?: string[];
  waves?: string;
  'wave-pause'?: string;
  'max-failures'?: string;
}

export interface FleetCommandRun<T> extends FleetSummaryOptions<T> {
  /** What the run does, for the progress view ("migrate", "backup"). */
  verb: string;
  /** No summary table (the command prints its own result). */
  quiet?: boolean;
}

/**
 * Every fleet command: runs per-tenant work on the fleet engine with the scheduling flags
 * (--concurrency, --per-server, --timeout, --bail), shows its progress (live in a terminal, plain
 * lines otherwise), turns the first Ctrl-C into a clean stop and the second into an abort, prints
 * the summary, and sets the exit code (0, 1 if any tenant failed, 3 if none could reach its
 * server, 130/143 after an interrupt).
 */
/** Runs tenant work on the engine; several runs of one command share its interrupt handling. */
export interface FleetScheduler {
  run<Tenant extends FleetTenant, R>(
    tenants: readonly Tenant[],
    work: TenantWork<Tenant, R>,
    detail?: (value: R) => string | undefined,
  ): Promise<FleetOutcome<R>>;
  /** The signal that interrupted one of the runs. */
  readonly interrupted?: NodeJS.Signals;
  close(): void;
}

export abstract class FleetCommand<T extends typeof Command> extends BaseCommand<T> {
  /**
   * The engine with this command's scheduling flags, a progress view per run, and Ctrl-C turned
   * into a clean stop (first) or an abort (second) until close().
   */
  protected async scheduler(verb: string): Promise<FleetScheduler> {
    const [{ runFleet, FleetInterrupt }, { planRollout }, { createFleetView }, { parseDurationSeconds }] =
      await Promise.all([
        import('../fleet/index.js'),
        import('../fleet/rollout.js'),
        import('./fleet-view.js'),
        import('../validation/index.js'),
      ]);
    const ctx = await this.context();
    const flags = this.flags as SchedulingFlagValues & { verbose?: boolean };
    const timeoutMs =
      flags.timeout === undefined
        ? ctx.config.timeouts.tenantMs
        : parseDurationSeconds(flags.timeout, '--timeout') * 1000;
    if (timeoutMs === 0)
      throw new InputError('--timeout must be at least 1s', { hint: 'e.g. --timeout 10m' });
    const concurrency = await this.concurrency(flags.concurrency);
    const pauseMs =
      flags['wave-pause'] === undefined
        ? undefined
        : parseDurationSeconds(flags['wave-pause'], '--wave-pause') * 1000;
    const rollout = <Tenant extends FleetTenant>(tenants: readonly Tenant[]) =>
      planRollout(tenants, {
        canary: flags.canary,
        canaryTenants: flags['canary-tenants']
          ?.flatMap((value) => value.split(','))
          .map((id) => id.trim())
          .filter(Boolean),
        waves: flags.waves,
        pauseMs,
        maxFailures: flags['max-failures'],
      });
    const interrupt = new FleetInterrupt().install();
    const json = this.jsonEnabled();
    return {
      run: async (tenants, work, detail) => {
        if (tenants.length === 1) this.auditTenant = tenants[0]!.id;
        const view = createFleetView({
          verb,
          verbose: Boolean(flags.verbose),
          detail: detail as ((value: unknown) => string | undefined) | undefined,
          live: json ? false : undefined,
        });
        const plan = rollout(tenants);
        try {
          const outcome = await runFleet(plan.tenants, work, {
            concurrency,
            serverLimit: (server) => flags['per-server'] ?? ctx.servers.concurrencyOf(server),
            bail: flags.bail,
            maxFailures: plan.maxFailures,
            waves: plan.waves,
            timeoutMs,
            interrupt,
            observer: view.observe,
          });
          // Waves run in their own order; results come back in the selection's.
          const position = new Map(tenants.map((tenant, index) => [tenant.id, index]));
          outcome.results.sort((a, b) => position.get(a.tenant)! - position.get(b.tenant)!);
          return outcome;
        } finally {
          view.finish();
        }
      },
      get interrupted() {
        return interrupt.signal;
      },
      close: () => interrupt.uninstall(),
    };
  }

  /**
   * One fleet run: the work on every tenant, then the summary (unless `quiet`) and the exit code
   * (0, 1 if any tenant failed, 3 if none could reach its server, 130/143 after an interrupt).
   */
  protected async runOnFleet<Tenant extends FleetTenant, R>(
    tenants: readonly Tenant[],
    work: TenantWork<Tenant, R>,
    run: FleetCommandRun<R>,
  ): Promise<FleetOutcome<R>> {
    const { fleetExitCode } = await import('../fleet/index.js');
    const scheduler = await this.scheduler(run.verb);
    let outcome: FleetOutcome<R>;
    try {
      // A tenant's progress line says what its summary row says; an idle one its idle label.
      const describe = (value: R) => (run.idle?.test(value) ? run.idle.label : run.detail?.(value));
      outcome = await scheduler.run(tenants, work, describe);
    } finally {
      scheduler.close();
    }
    process.exitCode = fleetExitCode(outcome.results, outcome.interrupted);
    if (!this.jsonEnabled() && !run.quiet) {
      const { renderFleetSummary } = await import('./fleet.js');
      this.log(
        await renderFleetSummary(outcome, {
          ...run,
          verbose: Boolean((this.flags as { verbose?: boolean }).verbose),
        }),
      );
    }
    return outcome;
  }
}

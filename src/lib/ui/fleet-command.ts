import type { Command } from '@oclif/core';
import os from 'node:os';
import type { FleetObserver, FleetOutcome, FleetResult, FleetTenant, TenantWork } from '../fleet/index.js';
import type { RunRecorder } from '../fleet/run-recorder.js';
import { InputError } from '../errors.js';
import type { TenantRecord } from '../registry/index.js';
import { BaseCommand, redactArguments, type SelectionFlagValues } from './base-command.js';
import type { FleetSummaryOptions } from './fleet.js';
import { colorErr } from './output.js';

/** How long an aborted run may take to print its summary and close before afty exits anyway. */
const ABANDONED_WORK_EXIT_MS = 3000;

/** The scheduling, rollout and run flags (flags.ts), as parsed; commands may take a subset. */
interface FleetFlagValues extends SelectionFlagValues {
  concurrency?: number;
  'per-server'?: number;
  timeout?: string;
  bail?: boolean;
  canary?: number;
  'canary-tenants'?: string[];
  waves?: string;
  'wave-pause'?: string;
  'max-failures'?: string;
  'run-id'?: string;
  resume?: string;
  'only-failed'?: string;
  verbose?: boolean;
}

export interface FleetCommandRun<T> extends FleetSummaryOptions<T> {
  /** What the run does, for the progress view ("migrate", "backup"). */
  verb: string;
  /** No summary table (the command prints its own result). */
  quiet?: boolean;
  /** What the run did on a tenant, kept in its run record (e.g. the migrations applied). */
  record?(result: FleetResult<T>): unknown;
}

/** Runs tenant work on the engine; several runs of one command share its interrupt handling. */
export interface FleetScheduler {
  run<Tenant extends FleetTenant, R>(
    tenants: readonly Tenant[],
    work: TenantWork<Tenant, R>,
    options?: { detail?(value: R): string | undefined; observer?: FleetObserver },
  ): Promise<FleetOutcome<R>>;
  /** The signal that interrupted one of the runs. */
  readonly interrupted?: NodeJS.Signals;
  close(): void;
}

/** Flags that select tenants, which --resume takes from the run it resumes instead. */
const SELECTION_FLAGS = ['tenant', 'all', 'status', 'server', 'exclude', 'shard'];
/** Flags --resume may be given with: how to run, not what to do. */
const RESUME_MAY_CHANGE = [
  ...SELECTION_FLAGS,
  'json',
  'verbose',
  'config',
  'concurrency',
  'per-server',
  'timeout',
  'bail',
  'max-failures',
  'force',
  'run-id',
  'resume',
  'only-failed',
];

/**
 * Every fleet command: runs per-tenant work on the fleet engine with the scheduling flags
 * (--concurrency, --per-server, --timeout, --bail, the rollout flags), shows its progress (live in
 * a terminal, plain lines otherwise), turns the first Ctrl-C into a clean stop and the second
 * into an abort, prints the summary, and sets the exit code (0, 1 if any tenant failed, 3 if none
 * could reach its server, 130/143 after an interrupt). Commands that change tenants
 * (`recordsRuns`) also record the run in the registry, and can --resume one.
 */
export abstract class FleetCommand<T extends typeof Command> extends BaseCommand<T> {
  /** This command changes tenants: each run is recorded, and --resume / --only-failed work. */
  static recordsRuns = false;
  /** The run this invocation recorded, once it has. */
  protected runId?: string;
  private resumed?: { id: string; tenants: string[] };

  private get fleetFlags(): FleetFlagValues {
    return this.flags as FleetFlagValues;
  }

  /** --resume RUN / --only-failed RUN: RUN's arguments, with this invocation's way of running. */
  public async init(): Promise<void> {
    await super.init();
    const flags = this.fleetFlags;
    const resume = flags.resume ?? flags['only-failed'];
    if (resume === undefined) return;
    if (flags.resume !== undefined && flags['only-failed'] !== undefined) {
      throw new InputError('--resume and --only-failed cannot be combined', { hint: 'pick one' });
    }
    const flag = flags.resume !== undefined ? '--resume' : '--only-failed';
    const { validateRunId } = await import('../fleet/run-recorder.js');
    const runs = (await (await this.context()).registry()).runs;
    const run = await runs.find(validateRunId(resume, flag));
    if (!run) throw new InputError(`no run ${resume}`, { hint: 'see afty runs list' });
    if (run.command !== this.id) {
      throw new InputError(
        `run ${resume} was afty ${run.command.replace(/:/g, ' ')}, not ${this.id?.replace(/:/g, ' ')}`,
        {
          hint: `resume it with afty ${run.command.replace(/:/g, ' ')} ${flag} ${resume}`,
        },
      );
    }
    const given = this.flagNames(this.argv).filter((name) => !RESUME_MAY_CHANGE.includes(name));
    if (given.length) {
      throw new InputError(
        `${flag} runs ${resume} again with its own arguments: drop --${given.join(', --')}`,
        {
          hint: `it ran: afty ${run.command.replace(/:/g, ' ')} ${run.arguments.join(' ')}`,
        },
      );
    }
    const wanted =
      flag === '--resume'
        ? (status: string) => status !== 'ok'
        : (status: string) => status === 'failed' || status === 'locked' || status === 'timeout';
    const tenants = (await runs.tenants(run.id)).filter((row) => wanted(row.status)).map((row) => row.tenant);
    // The run's own arguments, without its selection (the tenants come from its records) and
    // without what this invocation sets itself.
    const kept = this.withoutFlags(run.arguments, RESUME_MAY_CHANGE);
    const { flags: parsed, args } = await this.parse(
      {
        flags: this.ctor.flags,
        baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
        enableJsonFlag: this.ctor.enableJsonFlag,
        args: this.ctor.args,
        strict: this.ctor.strict,
      },
      [...kept, ...this.withoutFlags(this.argv, SELECTION_FLAGS)],
    );
    this.flags = parsed as typeof this.flags;
    this.args = args as typeof this.args;
    this.resumed = { id: run.id, tenants };
  }

  /** Long names of the flags in `argv` (short ones mapped to theirs). */
  private flagNames(argv: readonly string[]): string[] {
    const definitions = { ...this.ctor.flags, ...(this.ctor as typeof BaseCommand).baseFlags } as Record<
      string,
      { char?: string }
    >;
    const names: string[] = [];
    for (const arg of argv) {
      if (arg === '--') break;
      const long = /^--(?:no-)?([^=]+)/.exec(arg)?.[1];
      const short = /^-([a-zA-Z])$/.exec(arg)?.[1];
      const name = long ?? Object.entries(definitions).find(([, flag]) => short && flag.char === short)?.[0];
      if (name) names.push(name);
    }
    return names;
  }

  /** `argv` without the named flags and their values. */
  private withoutFlags(argv: readonly string[], names: readonly string[]): string[] {
    const definitions = { ...this.ctor.flags, ...(this.ctor as typeof BaseCommand).baseFlags } as Record<
      string,
      { char?: string; type?: string }
    >;
    const out: string[] = [];
    for (let index = 0; index < argv.length; index += 1) {
      const arg = argv[index]!;
      if (arg === '--') {
        out.push(...argv.slice(index));
        break;
      }
      const long = /^--(?:no-)?([^=]+)(=.*)?$/.exec(arg);
      const short = /^-([a-zA-Z])$/.exec(arg)?.[1];
      const name =
        long?.[1] ?? Object.entries(definitions).find(([, flag]) => short && flag.char === short)?.[0];
      if (!name || !names.includes(name)) {
        out.push(arg);
        continue;
      }
      const takesValue = definitions[name]?.type === 'option' && !long?.[2];
      if (takesValue) index += 1;
    }
    return out;
  }

  /** --resume / --only-failed: the run's unfinished (or failed) tenants that still exist. */
  protected async selectTenants(flags: SelectionFlagValues): Promise<TenantRecord[]> {
    if (!this.resumed) return super.selectTenants(flags);
    const registry = await (await this.context()).registry();
    const tenants = this.resumed.tenants.length
      ? await registry.listTenants({ ids: this.resumed.tenants })
      : [];
    this.notice(
      `resuming ${this.resumed.id}: ${tenants.length} tenant${tenants.length === 1 ? '' : 's'} to do` +
        (tenants.length < this.resumed.tenants.length
          ? ` (${this.resumed.tenants.length - tenants.length} no longer exist)`
          : ''),
    );
    return tenants;
  }

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
    const flags = this.fleetFlags;
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
      run: async (tenants, work, options = {}) => {
        if (tenants.length === 1) this.auditTenant = tenants[0]!.id;
        const plan = rollout(tenants);
        const view = createFleetView({
          verb,
          verbose: Boolean(flags.verbose),
          detail: options.detail as ((value: unknown) => string | undefined) | undefined,
          live: json ? false : undefined,
        });
        const observe: FleetObserver = options.observer
          ? (event) => {
              view.observe(event);
              options.observer!(event);
            }
          : view.observe;
        try {
          const outcome = await runFleet(plan.tenants, work, {
            concurrency,
            serverLimit: (server) => flags['per-server'] ?? ctx.servers.concurrencyOf(server),
            bail: flags.bail,
            maxFailures: plan.maxFailures,
            waves: plan.waves,
            timeoutMs,
            interrupt,
            observer: observe,
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
      close: () => {
        interrupt.uninstall();
        // After a second interrupt afty must end even if abandoned work still holds the event
        // loop (a socket that never closes): unref'd, this fires only if something else is left.
        if (interrupt.abort.signal.aborted) setTimeout(() => process.exit(), ABANDONED_WORK_EXIT_MS).unref();
      },
    };
  }

  /** Opens this invocation's run record (`--run-id` / AFTY_RUN_ID joins an existing one). */
  private async startRecord<R>(
    tenants: readonly FleetTenant[],
    run: FleetCommandRun<R>,
  ): Promise<RunRecorder<R>> {
    const [{ RunRecorder, newRunId, validateRunId }, { resolveShard }] = await Promise.all([
      import('../fleet/run-recorder.js'),
      import('../fleet/rollout.js'),
    ]);
    const ctx = await this.context();
    const flags = this.fleetFlags;
    const given = flags['run-id'] ?? (process.env.AFTY_RUN_ID || undefined);
    const id = given ? validateRunId(given, flags['run-id'] ? '--run-id' : 'AFTY_RUN_ID') : newRunId();
    const shard = resolveShard(flags.shard, process.env, ctx.config.shards);
    const part = shard && !flags.tenant?.length ? `${shard.index}/${shard.total}` : 'all';
    const store = (await ctx.registry()).runs;
    await store.begin(
      {
        id,
        command: this.id ?? 'unknown',
        arguments: redactArguments(this.argv),
        actor: process.env.AFTY_ACTOR || `${os.userInfo().username}@${os.hostname()}`,
        resumes: this.resumed?.id,
        part,
        host: os.hostname(),
        pid: process.pid,
      },
      tenants.map((tenant) => tenant.id),
    );
    this.runId = id;
    return new RunRecorder<R>(store, id, part, (result) => run.record?.(result));
  }

  /**
   * One fleet run: the work on every tenant, then the summary (unless `quiet`), the run's id, and
   * the exit code (0, 1 if any tenant failed, 3 if none could reach its server, 130/143 after an
   * interrupt).
   */
  protected async runOnFleet<Tenant extends FleetTenant, R>(
    tenants: readonly Tenant[],
    work: TenantWork<Tenant, R>,
    run: FleetCommandRun<R>,
  ): Promise<FleetOutcome<R>> {
    const { fleetExitCode } = await import('../fleet/index.js');
    // A dry run changes nothing: nothing to record.
    const recordsRuns =
      (this.ctor as typeof FleetCommand).recordsRuns &&
      !(this.flags as { 'dry-run'?: boolean })['dry-run'] &&
      (await this.context()).config.runs.record;
    const recorder = recordsRuns ? await this.startRecord(tenants, run) : undefined;
    const scheduler = await this.scheduler(run.verb);
    let outcome: FleetOutcome<R>;
    try {
      // A tenant's progress line says what its summary row says; an idle one its idle label.
      const describe = (value: R) => (run.idle?.test(value) ? run.idle.label : run.detail?.(value));
      outcome = await scheduler.run(tenants, work, { detail: describe, observer: recorder?.observe });
    } finally {
      scheduler.close();
    }
    if (recorder) {
      const label = outcome.interrupted
        ? `interrupted (${outcome.interrupted})`
        : outcome.stoppedAt
          ? 'stopped'
          : outcome.totals.ok + outcome.totals.skipped === outcome.totals.tenants
            ? 'ok'
            : 'failed';
      const failure = await recorder.finish(label);
      if (failure) {
        this.notice(
          colorErr.yellow(
            `warning: the run record ${recorder.runId} is incomplete: ${(failure as Error).message}`,
          ),
        );
      }
    }
    process.exitCode = fleetExitCode(outcome.results, outcome.interrupted);
    if (!this.jsonEnabled() && !run.quiet) {
      const { renderFleetSummary } = await import('./fleet.js');
      this.log(await renderFleetSummary(outcome, { ...run, verbose: Boolean(this.fleetFlags.verbose) }));
    }
    if (this.runId && !this.jsonEnabled()) this.log(`Run ${this.runId} (afty runs show ${this.runId})`);
    return outcome;
  }

  /** A recorded run's id is `run` in the --json document. */
  public logJson(json: unknown): void {
    super.logJson(
      this.runId && json && typeof json === 'object' && !Array.isArray(json) && !('error' in json)
        ? { ...json, run: this.runId }
        : json,
    );
  }
}

import type { DefaultRenderer, ListrTaskWrapper, SimpleRenderer } from 'listr2';
import { assertConcurrency, runTenant, type FleetResult, type FleetRunState } from '../fleet/index.js';
import type { TenantRecord } from '../registry/index.js';
import { formatDuration } from './output.js';

/** What per-tenant work may report while it runs (rendered by listr2, or nothing with --json). */
export interface ProgressReporter {
  /**
   * Declares the steps about to run, in order (the migrations of a batch, the seeders): each
   * becomes a subtask of the tenant's task, running until its step() arrives. Once per tenant.
   */
  plan(names: readonly string[]): void;
  /**
   * A finished step with its duration. A planned one completes its subtask (`detail` shown after
   * its name); any other is a line under the tenant's task.
   */
  step(name: string, durationMs?: number, detail?: string): void;
  /** A transient status line for the tenant's task. */
  status(text: string): void;
}

export interface FleetProgressOptions {
  concurrency: number;
  bail?: boolean;
  /** --json: no renderer at all (stdout stays pure JSON). */
  silent: boolean;
  /** The verb shown in each tenant's title, e.g. "migrate". */
  verb: string;
}

type Task = ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;

/** How a planned step ended, as its subtask learns it. */
type StepOutcome = { ran: true; title: string } | { ran: false; error?: string };

interface PlannedStep {
  name: string;
  outcome: Promise<StepOutcome>;
  settle(outcome: StepOutcome): void;
  settled: boolean;
}

function plannedStep(name: string): PlannedStep {
  let settle!: (outcome: StepOutcome) => void;
  const outcome = new Promise<StepOutcome>((resolve) => (settle = resolve));
  const step: PlannedStep = {
    name,
    outcome,
    settled: false,
    settle(value) {
      step.settled = true;
      settle(value);
    },
  };
  return step;
}

const stepTitle = (name: string, durationMs?: number, detail?: string) => {
  const facts = [detail, durationMs === undefined ? undefined : formatDuration(durationMs)].filter(Boolean);
  return facts.length ? `${name} (${facts.join(', ')})` : name;
};

/**
 * One tenant's task: the reporter its work writes to, and the subtasks its plan becomes. The
 * work runs as one unit (a migration lock is held across all of it); subtasks only wait for
 * the work to report each step, so rendering never changes what runs or in which order.
 */
class TenantProgress {
  readonly reporter: ProgressReporter;
  private steps: PlannedStep[] | undefined;
  private readonly planned: Promise<PlannedStep[]>;
  private announcePlan!: (steps: PlannedStep[]) => void;
  private unplannedSteps = 0;

  constructor(
    private readonly tenant: string,
    private readonly task: Task,
    /** Non-TTY: lines of concurrent tenants interleave, so each names its tenant. */
    private readonly simple: boolean,
  ) {
    this.planned = new Promise((resolve) => (this.announcePlan = resolve));
    this.reporter = {
      plan: (names) => {
        if (this.steps) throw new Error(`${tenant}: progress plan declared twice`);
        this.steps = names.map(plannedStep);
        this.announcePlan(this.steps);
      },
      step: (name, durationMs, detail) => {
        const index = this.steps?.findIndex((step) => !step.settled && step.name === name) ?? -1;
        if (index < 0) {
          this.unplannedSteps += 1;
          this.task.output = this.line(`✓ ${stepTitle(name, durationMs, detail)}`);
          return;
        }
        // Steps reported out of order: the ones passed over did not run.
        for (const skipped of this.steps!.slice(0, index))
          if (!skipped.settled) skipped.settle({ ran: false });
        this.steps![index]!.settle({ ran: true, title: this.line(stepTitle(name, durationMs, detail)) });
      },
      status: (text) => {
        this.task.output = this.line(text);
      },
    };
  }

  private line(text: string): string {
    return this.simple ? `${this.tenant}: ${text}` : text;
  }

  /**
   * Runs the work and renders it: as subtasks when it declares a plan before it finishes,
   * otherwise as the tenant's task alone.
   */
  async run<T>(running: Promise<FleetResult<T>>, verb: string): Promise<unknown> {
    const ended = running.then((result) => {
      this.settleRemaining(result);
      return result;
    });
    const steps = await Promise.race([this.planned, ended.then(() => undefined)]);
    if (!steps?.length) return this.finish(await ended, verb);
    return this.task.newListr(
      [
        ...steps.map((step) => ({
          title: this.line(step.name),
          task: async (_context: unknown, subtask: Task) => {
            const outcome = await step.outcome;
            if (outcome.ran) subtask.title = outcome.title;
            else if (outcome.error) throw new Error(outcome.error);
            else subtask.skip(this.line(`${step.name}: not run`));
          },
          // The title carries the step's own duration; listr's timer would also count the wait.
          rendererOptions: { timer: undefined },
          fallbackRendererOptions: { timer: undefined },
        })),
        { task: async () => this.finish(await ended, verb) },
      ],
      { concurrent: false, exitOnError: true },
    );
  }

  /** The work ended: the first unfinished step failed with its error, the rest did not run. */
  private settleRemaining(result: FleetResult<unknown>): void {
    let error = result.status === 'failed' ? result.error : undefined;
    for (const step of this.steps ?? []) {
      if (step.settled) continue;
      step.settle({ ran: false, error });
      error = undefined;
    }
  }

  private finish(result: FleetResult<unknown>, verb: string): void {
    if (result.status === 'skipped') {
      this.task.skip(`${this.tenant}: skipped (--bail)`);
    } else if (result.status === 'failed') {
      throw new Error(`${this.tenant}: ${result.error}`);
    } else {
      const count = (this.steps?.length ?? 0) + this.unplannedSteps;
      this.task.title = `${this.tenant}: ${verb} done${count ? ` (${count} step${count === 1 ? '' : 's'})` : ''}`;
    }
  }
}

/**
 * Runs per-tenant work with a live listr2 view: one task per tenant, concurrency bounded, and
 * under it one subtask per planned step (a migration, a seeder) with its duration. Non-TTY
 * output falls back to the simple renderer, where every line names its tenant. Results as
 * runFleet's.
 */
export async function runFleetWithProgress<T>(
  tenants: TenantRecord[],
  work: (tenant: TenantRecord, reporter: ProgressReporter) => Promise<T>,
  options: FleetProgressOptions,
): Promise<Array<FleetResult<T>>> {
  assertConcurrency(options.concurrency);
  const results: Array<FleetResult<T>> = new Array(tenants.length);
  const state: FleetRunState = { bail: Boolean(options.bail), bailed: false };
  const { Listr, ListrDefaultRendererLogLevels, ListrLogger, PRESET_TIMER, ProcessOutput, figures } =
    await import('listr2');
  // Progress belongs on stderr: stdout carries results (tables, JSON) that scripts read.
  const logger = new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });
  const simple = !process.stderr.isTTY;

  const list = new Listr(
    tenants.map((tenant, index) => ({
      title: `${tenant.id}: ${options.verb}`,
      task: (_context: unknown, task: Task) => {
        const progress = new TenantProgress(tenant.id, task, simple);
        const running = runTenant(tenant, (selected) => work(selected, progress.reporter), state).then(
          (result) => (results[index] = result),
        );
        return progress.run(running, options.verb);
      },
      rendererOptions: { persistentOutput: true, outputBar: Infinity },
    })),
    {
      concurrent: options.concurrency,
      exitOnError: false,
      collectErrors: 'minimal',
      renderer: options.silent ? 'silent' : 'default',
      fallbackRenderer: options.silent ? 'silent' : 'simple',
      fallbackRendererCondition: simple,
      rendererOptions: {
        timer: PRESET_TIMER,
        collapseSubtasks: false,
        logger,
        // listr2 marks a task whose subtask failed with a red ❯, which reads as "still running".
        icon: { [ListrDefaultRendererLogLevels.FAILED_WITH_FAILED_SUBTASKS]: figures.cross },
      },
      fallbackRendererOptions: { timer: PRESET_TIMER, logger },
    },
  );
  await list.run();
  return results;
}

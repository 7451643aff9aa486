import type { ListrTaskWrapper } from 'listr2';
import { assertConcurrency, runTenant, type FleetResult, type FleetRunState } from '../fleet/index.js';
import type { TenantRecord } from '../registry/index.js';
import { formatDuration } from './output.js';

/** What per-tenant work may report while it runs (rendered by listr2, or nothing with --json). */
export interface ProgressReporter {
  /** One finished step (a migration, a seeder, a table) with its duration; shown under the tenant. */
  step(title: string, durationMs?: number): void;
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

/**
 * Runs per-tenant work with a live listr2 view: one task per tenant, its finished steps with
 * their durations underneath, concurrency bounded. Non-TTY output falls back to the simple
 * renderer, where every line is prefixed with the tenant id. Results as runFleet's.
 */
export async function runFleetWithProgress<T>(
  tenants: TenantRecord[],
  work: (tenant: TenantRecord, reporter: ProgressReporter) => Promise<T>,
  options: FleetProgressOptions,
): Promise<Array<FleetResult<T>>> {
  assertConcurrency(options.concurrency);
  const results: Array<FleetResult<T>> = new Array(tenants.length);
  const state: FleetRunState = { bail: Boolean(options.bail), bailed: false };
  const { Listr, ListrLogger, PRESET_TIMER, ProcessOutput } = await import('listr2');
  // Progress belongs on stderr: stdout carries results (tables, JSON) that scripts read.
  const logger = new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });
  const simple = !process.stderr.isTTY;

  const list = new Listr(
    tenants.map((tenant, index) => ({
      title: `${tenant.id}: ${options.verb}`,
      task: async (_context: unknown, task: ListrTaskWrapper<unknown, never, never>) => {
        const steps: string[] = [];
        const reporter: ProgressReporter = {
          step(title, durationMs) {
            const line = `${simple ? `${tenant.id}: ` : ''}✓ ${title}${durationMs === undefined ? '' : ` (${formatDuration(durationMs)})`}`;
            steps.push(line);
            task.output = line;
          },
          status(text) {
            task.output = simple ? `${tenant.id}: ${text}` : text;
          },
        };
        const result = await runTenant(tenant, (selected) => work(selected, reporter), state);
        results[index] = result;
        if (result.status === 'skipped') task.skip(`${tenant.id}: skipped (--bail)`);
        else if (result.status === 'failed') throw new Error(`${tenant.id}: ${result.error}`);
        else
          task.title = `${tenant.id}: ${options.verb} done${steps.length ? ` (${steps.length} step${steps.length === 1 ? '' : 's'})` : ''}`;
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
      rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false, logger },
      fallbackRendererOptions: { timer: PRESET_TIMER, logger },
    },
  );
  await list.run();
  return results;
}

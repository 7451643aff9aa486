import type { FleetOutcome, FleetResult } from '../fleet/index.js';
import { color, formatDuration, renderTable, statusColor } from './output.js';

export interface FleetSummaryOptions<T> {
  /** What an ok tenant's row says it did. */
  detail?(value: T): string | undefined;
  /**
   * An ok tenant with nothing to do (e.g. no pending migration) gets no row, only a count in the
   * totals line under this label, so the table of a 1,000-tenant deploy shows what changed.
   */
  idle?: { label: string; test(value: T): boolean };
  /** Every tenant gets a row, however many there are (--verbose). */
  verbose?: boolean;
}

/** Above this many rows the summary lists only failures (the totals line counts the rest). */
const MAX_ROWS = 50;

function rowDetail<T>(result: FleetResult<T>, options: FleetSummaryOptions<T>): string {
  if (result.status === 'ok') return options.detail?.(result.value as T) ?? '';
  return `${result.step ? `${result.step}: ` : ''}${result.error ?? ''}`;
}

/**
 * How every fleet command ends: a table of the tenants that changed or failed (only the failures
 * when that would be long), the totals, and after an interrupt what ran and what did not.
 */
export async function renderFleetSummary<T>(
  outcome: FleetOutcome<T>,
  options: FleetSummaryOptions<T> = {},
): Promise<string> {
  const { results, totals } = outcome;
  const isIdle = (result: FleetResult<T>) =>
    Boolean(options.idle && result.status === 'ok' && options.idle.test(result.value as T));
  const notStarted = (result: FleetResult<T>) => result.status === 'skipped' && result.durationMs === 0;
  const changed = results.filter((result) => !isIdle(result) && !notStarted(result));
  const all = options.verbose || changed.length <= MAX_ROWS;
  const shown = all ? changed : changed.filter((result) => result.status !== 'ok');
  const lines: string[] = [];
  if (shown.length) {
    lines.push(
      await renderTable({
        columns: [
          { header: 'tenant', kind: 'id' },
          { header: 'result', kind: 'id' },
          { header: 'duration', kind: 'id' },
          { header: 'detail', kind: 'text' },
        ],
        rows: shown.map((result) => [
          result.tenant,
          statusColor(result.status),
          formatDuration(result.durationMs),
          rowDetail(result, options),
        ]),
      }),
    );
  }
  const idle = results.filter(isIdle).length;
  const parts = [color.green(`${totals.ok} ok${idle ? ` (${idle} ${options.idle!.label})` : ''}`)];
  if (totals.failed) parts.push(color.red(`${totals.failed} failed`));
  if (totals.locked) parts.push(color.red(`${totals.locked} locked`));
  if (totals.timeout) parts.push(color.red(`${totals.timeout} timed out`));
  if (totals.interrupted) parts.push(color.yellow(`${totals.interrupted} interrupted`));
  if (totals.skipped) parts.push(color.yellow(`${totals.skipped} skipped`));
  const hiddenOk = all ? 0 : changed.length - shown.length;
  lines.push(
    `${totals.tenants} tenant${totals.tenants === 1 ? '' : 's'}: ${parts.join(', ')} in ${formatDuration(outcome.durationMs)}` +
      (hiddenOk ? color.dim(` (${hiddenOk} ok rows not listed: --verbose lists every tenant)`) : ''),
  );
  if (outcome.stoppedAt) {
    const { wave, waves, reason } = outcome.stoppedAt;
    const never = results.filter(notStarted).length;
    lines.push(
      color.red(
        `Stopped after wave ${wave} of ${waves}: ${reason}; ${never} tenant${never === 1 ? '' : 's'} not started. Fix the cause, then run the same command again.`,
      ),
    );
  }
  if (outcome.interrupted) {
    const never = results.filter(notStarted).length;
    lines.push(
      color.yellow(
        `Interrupted by ${outcome.interrupted}: ${totals.tenants - never} tenant${totals.tenants - never === 1 ? '' : 's'} ran (${totals.interrupted} stopped between steps), ${never} never started; ` +
          'their locks are free. Run the same command again to finish.',
      ),
    );
  }
  return lines.join('\n');
}

import type { FleetResult } from '../fleet/index.js';
import { fleetTotals } from '../fleet/index.js';
import { color, formatDuration, renderTable, statusColor } from './output.js';

export interface FleetSummaryOptions<T> {
  /** What an ok tenant's row says it did. */
  detail?(value: T): string;
  /**
   * An ok tenant with nothing to do (e.g. no pending migration) gets no row, only a count in the
   * totals line under this label, so the table of a 1,000-tenant deploy shows what changed.
   */
  idle?: { label: string; test(value: T): boolean };
}

/** The per-tenant summary table every fleet command ends with, plus a totals line. */
export async function renderFleetSummary<T>(
  results: Array<FleetResult<T>>,
  options: FleetSummaryOptions<T> = {},
): Promise<string> {
  const isIdle = (result: FleetResult<T>) =>
    Boolean(options.idle && result.status === 'ok' && options.idle.test(result.value as T));
  const shown = results.filter((result) => !isIdle(result));
  const table = shown.length
    ? await renderTable({
        columns: [
          { header: 'tenant', kind: 'id' },
          { header: 'result', kind: 'id' },
          { header: 'duration', kind: 'id' },
          { header: 'detail', kind: 'text' },
        ],
        rows: shown.map((result) => [
          result.tenant,
          statusColor(result.status),
          result.status === 'skipped' ? '' : formatDuration(result.durationMs),
          result.status === 'ok' ? (options.detail?.(result.value as T) ?? '') : (result.error ?? ''),
        ]),
      })
    : undefined;
  const totals = fleetTotals(results);
  const idle = results.length - shown.length;
  const parts = [color.green(`${totals.ok} ok${idle ? ` (${idle} ${options.idle!.label})` : ''}`)];
  if (totals.failed) parts.push(color.red(`${totals.failed} failed`));
  if (totals.skipped) parts.push(color.yellow(`${totals.skipped} skipped`));
  const line = `${totals.total} tenant${totals.total === 1 ? '' : 's'}: ${parts.join(', ')}`;
  return table ? `${table}\n${line}` : line;
}

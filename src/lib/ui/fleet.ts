import type { FleetResult } from '../fleet/index.js';
import { fleetTotals } from '../fleet/index.js';
import { color, formatDuration, renderTable, statusColor } from './output.js';

/** The per-tenant summary table every fleet command ends with, plus a totals line. */
export async function renderFleetSummary(
  results: Array<FleetResult<unknown>>,
  detail: (result: FleetResult<unknown>) => string = (result) => result.error ?? '',
): Promise<string> {
  const table = await renderTable({
    head: ['tenant', 'result', 'duration', 'detail'],
    rows: results.map((result) => [
      result.tenant,
      statusColor(result.status),
      result.status === 'skipped' ? '' : formatDuration(result.durationMs),
      result.status === 'ok' ? detail(result) : (result.error ?? ''),
    ]),
  });
  const totals = fleetTotals(results);
  const parts = [color.green(`${totals.ok} ok`)];
  if (totals.failed) parts.push(color.red(`${totals.failed} failed`));
  if (totals.skipped) parts.push(color.yellow(`${totals.skipped} skipped`));
  return `${table}\n${totals.total} tenant${totals.total === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

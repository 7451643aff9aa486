import { fleetResultJson, fleetTotals, type FleetResult, type FleetTotals } from '../fleet/index.js';

export interface FleetOutcome<T> {
  /** The summary table for a terminal; absent with --json. */
  summary?: string;
  /** 1 when any tenant failed. */
  exitCode: 0 | 1;
  json: { results: Array<Omit<FleetResult<T>, 'cause'>>; totals: FleetTotals };
}

/** How a fleet backup command ends: summary (with a detail per successful tenant), exit code and JSON. */
export async function fleetOutcome<T>(
  results: Array<FleetResult<T>>,
  json: boolean,
  detail: (value: T) => string,
): Promise<FleetOutcome<T>> {
  const totals = fleetTotals(results);
  let summary: string | undefined;
  if (!json) {
    const { renderFleetSummary } = await import('../ui/fleet.js');
    summary = await renderFleetSummary(results, { detail });
  }
  return {
    summary,
    exitCode: totals.failed > 0 ? 1 : 0,
    json: { results: results.map((result) => fleetResultJson(result)), totals },
  };
}

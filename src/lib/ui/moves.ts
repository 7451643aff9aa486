import type { FleetJson, FleetOutcome, FleetTenantJson } from '../fleet/index.js';
import type { MoveResult } from '../tenants/move.js';
import type { FleetCommandRun } from './fleet-command.js';
import { formatDuration } from './output.js';

export type MoveJson = FleetJson<
  FleetTenantJson & {
    from: string | null;
    to: string | null;
    moved: boolean;
    downtimeMs: number | null;
    maintenance: MoveResult['maintenance'] | null;
    keptSource: string | null;
    tables: number | null;
    rows: number | null;
    recovered: string | null;
  }
>;

/** How a move run shows and records each tenant (tenant move, servers plan --apply). */
export const moveRun: FleetCommandRun<MoveResult> = {
  verb: 'move',
  detail: (value) =>
    value.moved
      ? `${value.from} → ${value.to}, downtime ${formatDuration(value.downtimeMs)}${value.keptSource ? `, source kept as ${value.keptSource}` : ''}`
      : `already on ${value.to}`,
  idle: { test: (value) => !value.moved, label: 'already there' },
  record: (result) =>
    result.value
      ? {
          from: result.value.from,
          to: result.value.to,
          moved: result.value.moved,
          downtimeMs: result.value.downtimeMs,
        }
      : undefined,
};

export async function moveJson(outcome: FleetOutcome<MoveResult>): Promise<MoveJson> {
  const { fleetJson } = await import('../fleet/index.js');
  return fleetJson(
    outcome.results,
    (result) => ({
      from: result.value?.from ?? null,
      to: result.value?.to ?? null,
      moved: result.value?.moved ?? false,
      downtimeMs: result.value?.downtimeMs ?? null,
      maintenance: result.value?.maintenance ?? null,
      keptSource: result.value?.keptSource ?? null,
      tables: result.value?.tables ?? null,
      rows: result.value?.rows ?? null,
      recovered: result.value?.recovered ?? null,
    }),
    { interrupted: outcome.interrupted },
  );
}

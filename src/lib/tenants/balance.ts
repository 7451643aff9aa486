import type { AftyContext } from '../context.js';
import { errorMessage } from '../errors.js';
import type { TenantRecord } from '../registry/index.js';
import type { EngineKind } from '../servers/engine.js';
import { moveOperations, type ServerUsage } from './move-sql.js';

export interface ServerSummary {
  name: string;
  driver: EngineKind;
  /** The server's URL without password. */
  url: string;
  version: string | null;
  tenants: number;
  /** Size of its tenants' databases (data and indexes). */
  bytes: number | null;
  connections: number | null;
  maxConnections: number | null;
  /** Why the server could not be read; null when it could. */
  error: string | null;
}

export interface FleetPlacement {
  servers: ServerSummary[];
  /** Every tenant (but half-created ones) with the size of its database; null when unreadable. */
  tenants: Array<{ tenant: TenantRecord; bytes: number | null }>;
}

/** Reads every configured server's usage and where each tenant is, in parallel per server. */
export async function readPlacement(ctx: AftyContext): Promise<FleetPlacement> {
  const tenants = await (await ctx.registry()).listTenants({});
  const usages = await Promise.all(
    ctx.servers.names.map(async (name) => {
      const server = ctx.servers.get(name);
      try {
        const databases = tenants.filter((tenant) => tenant.server === name).map((tenant) => tenant.database);
        return { server, usage: await moveOperations(server).usage(databases) };
      } catch (error) {
        return { server, error: errorMessage(error) };
      }
    }),
  );
  const byServer = new Map<string, ServerUsage | undefined>(
    usages.map((entry) => [entry.server.name, 'usage' in entry ? entry.usage : undefined]),
  );
  const sized = tenants.map((tenant) => ({
    tenant,
    bytes: byServer.get(tenant.server)?.databases.get(tenant.database) ?? null,
  }));
  const servers = usages.map((entry): ServerSummary => {
    const own = sized.filter((row) => row.tenant.server === entry.server.name);
    const usage = 'usage' in entry ? entry.usage : undefined;
    return {
      name: entry.server.name,
      driver: entry.server.driver,
      url: entry.server.description,
      version: usage?.version ?? null,
      tenants: own.length,
      bytes: usage ? own.reduce((sum, row) => sum + (row.bytes ?? 0), 0) : null,
      connections: usage?.connections ?? null,
      maxConnections: usage?.maxConnections ?? null,
      error: 'error' in entry ? (entry.error ?? null) : null,
    };
  });
  return { servers, tenants: sized };
}

export type BalanceBy = 'size' | 'count';

export interface PlannedMove {
  tenant: string;
  from: string;
  to: string;
  /** What the tenant weighs in the plan: bytes (by size) or 1 (by count). */
  weight: number;
}

export interface BalancePlan {
  by: BalanceBy;
  moves: PlannedMove[];
  /** Load per server before and after the moves (bytes or tenants). */
  servers: Array<{ name: string; before: number; after: number }>;
}

/**
 * Proposes moves that even out the servers: repeatedly the tenant of the most loaded server whose
 * weight comes closest to half the gap to the least loaded one, as long as a move narrows the gap.
 * Tenants move only between servers of the same engine, each at most once; servers that could not
 * be read take no part.
 */
export function planBalance(
  servers: Array<{ name: string; driver: string }>,
  /** `fixed`: counts in its server's load but stays (an excluded tenant). */
  tenants: Array<{ id: string; server: string; weight: number; fixed?: boolean }>,
  by: BalanceBy,
): BalancePlan {
  const load = new Map(servers.map((server) => [server.name, 0]));
  for (const tenant of tenants) load.set(tenant.server, (load.get(tenant.server) ?? 0) + tenant.weight);
  const before = new Map(load);
  const where = new Map(tenants.map((tenant) => [tenant.id, tenant.server]));
  const moved = new Set<string>();
  const moves: PlannedMove[] = [];
  for (const driver of new Set(servers.map((server) => server.driver))) {
    const group = servers.filter((server) => server.driver === driver).map((server) => server.name);
    if (group.length < 2) continue;
    for (let round = 0; round < tenants.length; round += 1) {
      const sorted = [...group].sort((a, b) => load.get(b)! - load.get(a)! || a.localeCompare(b));
      const heaviest = sorted[0]!;
      const lightest = sorted.at(-1)!;
      const gap = load.get(heaviest)! - load.get(lightest)!;
      let best: { id: string; weight: number } | undefined;
      for (const tenant of tenants) {
        if (tenant.fixed || where.get(tenant.id) !== heaviest || moved.has(tenant.id)) continue;
        if (tenant.weight <= 0 || tenant.weight >= gap) continue;
        if (!best || Math.abs(gap / 2 - tenant.weight) < Math.abs(gap / 2 - best.weight)) best = tenant;
      }
      if (!best) break;
      moved.add(best.id);
      where.set(best.id, lightest);
      load.set(heaviest, load.get(heaviest)! - best.weight);
      load.set(lightest, load.get(lightest)! + best.weight);
      moves.push({ tenant: best.id, from: heaviest, to: lightest, weight: best.weight });
    }
  }
  return {
    by,
    moves,
    servers: servers.map((server) => ({
      name: server.name,
      before: before.get(server.name)!,
      after: load.get(server.name)!,
    })),
  };
}

/** The plan for the fleet as it is now. */
export async function planFleetBalance(
  ctx: AftyContext,
  by: BalanceBy,
  exclude: string[] = [],
): Promise<BalancePlan & { placement: FleetPlacement }> {
  const placement = await readPlacement(ctx);
  const readable = placement.servers.filter((server) => !server.error);
  const names = new Set(readable.map((server) => server.name));
  const tenants = placement.tenants
    .filter((row) => names.has(row.tenant.server))
    .map((row) => ({
      id: row.tenant.id,
      server: row.tenant.server,
      weight: by === 'count' ? 1 : (row.bytes ?? 0),
      fixed: exclude.includes(row.tenant.id),
    }));
  return { ...planBalance(readable, tenants, by), placement };
}

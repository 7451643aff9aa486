import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import type { FleetTenant } from './scheduler.js';

/** A stable position of a tenant in [0, 2^48): the same id always lands in the same place. */
function stableHash(id: string): number {
  return createHash('sha256').update(id).digest().readUIntBE(0, 6);
}

export interface Shard {
  /** 1-based, as `--shard 2/4` and GitLab's CI_NODE_INDEX. */
  index: number;
  total: number;
  /** Where it came from, for messages: the flag or the environment variable. */
  source: string;
}

const MAX_SHARDS = 10_000;

function checkedShard(index: number, total: number, source: string): Shard {
  if (!Number.isInteger(total) || total < 1 || total > MAX_SHARDS) {
    throw new InputError(`${source}: the number of shards must be a whole number from 1 to ${MAX_SHARDS}`);
  }
  if (!Number.isInteger(index) || index < 1 || index > total) {
    throw new InputError(`${source}: shard ${index} is not one of 1..${total}`);
  }
  return { index, total, source };
}

/**
 * The shard this process works on: `--shard I/N`, else Kubernetes Indexed Jobs
 * (JOB_COMPLETION_INDEX, 0-based, with the total from AFTY_SHARD_TOTAL or config `shards`), else
 * GitLab parallel jobs (CI_NODE_INDEX / CI_NODE_TOTAL), else none.
 */
export function resolveShard(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  configTotal?: number,
): Shard | undefined {
  if (flag !== undefined) {
    const match = /^(\d{1,5})\/(\d{1,5})$/.exec(flag.trim());
    if (!match) throw new InputError(`invalid --shard ${JSON.stringify(flag)}: use I/N, e.g. --shard 2/4`);
    return checkedShard(Number(match[1]), Number(match[2]), '--shard');
  }
  if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== '') {
    const total = env.AFTY_SHARD_TOTAL ? Number(env.AFTY_SHARD_TOTAL) : configTotal;
    if (total === undefined) {
      throw new InputError('JOB_COMPLETION_INDEX is set but not how many shards there are', {
        hint: 'set AFTY_SHARD_TOTAL (the Job\'s completions) or "shards" in the config',
      });
    }
    return checkedShard(Number(env.JOB_COMPLETION_INDEX) + 1, total, 'JOB_COMPLETION_INDEX');
  }
  if (env.CI_NODE_INDEX && env.CI_NODE_TOTAL) {
    return checkedShard(Number(env.CI_NODE_INDEX), Number(env.CI_NODE_TOTAL), 'CI_NODE_INDEX/CI_NODE_TOTAL');
  }
  return undefined;
}

/** The shard a tenant belongs to (1-based): a hash of its id alone, so adding tenants moves none. */
export function shardOf(id: string, total: number): number {
  return (stableHash(id) % total) + 1;
}

export function selectShard<Tenant extends FleetTenant>(tenants: readonly Tenant[], shard: Shard): Tenant[] {
  return tenants.filter((tenant) => shardOf(tenant.id, shard.total) === shard.index);
}

/** `10`, `10%` → a count of `total` (a percentage rounds up, so 1% of 50 is 1). */
export function countOf(value: string, total: number, flag: string): number {
  const match = /^(\d{1,9})(%?)$/.exec(value.trim());
  if (!match)
    throw new InputError(
      `invalid ${flag} ${JSON.stringify(value)}: use a number or a percentage, e.g. 10 or 5%`,
    );
  const number = Number(match[1]);
  if (match[2]) {
    if (number < 1 || number > 100) throw new InputError(`${flag} ${value}: a percentage is 1% to 100%`);
    return Math.ceil((number / 100) * total);
  }
  if (number < 1) throw new InputError(`${flag} must be at least 1`);
  return number;
}

export interface RolloutRequest {
  /** --canary N */
  canary?: number;
  /** --canary-tenants: these tenants (ids) are the canary. */
  canaryTenants?: string[];
  /** --waves 1,10%,50%,100% */
  waves?: string;
  /** --wave-pause, in ms */
  pauseMs?: number;
  /** --max-failures N|P% */
  maxFailures?: string;
}

export interface Rollout<Tenant> {
  /** The tenants in the order they run: the canary first, then a stable spread of the rest. */
  tenants: Tenant[];
  waves?: { sizes: number[]; pauseMs?: number; canary?: boolean };
  maxFailures?: number;
}

/**
 * Orders tenants and cuts them into waves. Waves are a stable sample (tenants by the hash of
 * their id), so each wave spreads over the fleet and the same command picks the same canary.
 */
export function planRollout<Tenant extends FleetTenant>(
  tenants: readonly Tenant[],
  request: RolloutRequest,
): Rollout<Tenant> {
  const maxFailures =
    request.maxFailures === undefined
      ? undefined
      : countOf(request.maxFailures, tenants.length, '--max-failures');
  const named = request.canaryTenants ?? [];
  const byId = new Map(tenants.map((tenant) => [tenant.id, tenant]));
  const unknown = named.filter((id) => !byId.has(id));
  if (unknown.length) {
    throw new InputError(
      `--canary-tenants: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the selection`,
    );
  }
  const canary = request.canary ?? (named.length || undefined);
  if (canary !== undefined && canary < named.length) {
    throw new InputError(`--canary ${canary} is fewer than the ${named.length} --canary-tenants`);
  }
  if (canary === undefined && request.waves === undefined) {
    if (request.pauseMs !== undefined) throw new InputError('--wave-pause needs --waves or --canary');
    return { tenants: [...tenants], maxFailures };
  }
  const first = named.map((id) => byId.get(id)!);
  const rest = tenants
    .filter((tenant) => !named.includes(tenant.id))
    .sort((a, b) => stableHash(a.id) - stableHash(b.id) || a.id.localeCompare(b.id));
  const ordered = [...first, ...rest];
  const sizes: number[] = [];
  if (canary !== undefined) sizes.push(Math.min(canary, ordered.length));
  for (const part of request.waves?.split(',') ?? []) {
    const size = Math.min(countOf(part, ordered.length, '--waves'), ordered.length);
    if (size <= (sizes.at(-1) ?? 0) && size < ordered.length) {
      throw new InputError(
        `--waves ${request.waves}: each wave must be bigger than the one before (they are cumulative)`,
      );
    }
    sizes.push(size);
  }
  return {
    tenants: ordered,
    waves: { sizes, pauseMs: request.pauseMs, canary: canary !== undefined },
    maxFailures,
  };
}

import { Flags } from '@oclif/core';
import { TENANT_STATUSES } from '../validation/index.js';

/**
 * Selection and scheduling flags shared by every per-tenant command (docs/fleet.md,
 * "Selection"). Repeatable flags have no `default: []`: oclif would print "[default: ]".
 */
export const fleetFlags = {
  tenant: Flags.string({
    char: 't',
    multiple: true,
    description: 'tenant id or domain (repeatable)',
    helpGroup: 'SELECTION',
  }),
  all: Flags.boolean({
    description: 'every tenant (narrowed by --status/--server/--exclude)',
    helpGroup: 'SELECTION',
  }),
  status: Flags.string({
    multiple: true,
    options: [...TENANT_STATUSES],
    description: 'only tenants with this status (repeatable)',
    helpGroup: 'SELECTION',
  }),
  server: Flags.string({
    multiple: true,
    description: 'only tenants on this server (repeatable)',
    helpGroup: 'SELECTION',
  }),
  exclude: Flags.string({
    multiple: true,
    description: 'leave out this tenant (repeatable)',
    helpGroup: 'SELECTION',
  }),
  shard: Flags.string({
    description:
      "only this job's share of the selection, I/N (by a hash of the tenant id) [default: from JOB_COMPLETION_INDEX or CI_NODE_INDEX/CI_NODE_TOTAL]",
    helpGroup: 'SELECTION',
  }),
  concurrency: Flags.integer({
    char: 'c',
    min: 1,
    max: 256,
    description: 'tenants worked on at once [default: config concurrency, else min(4, cores×2)]',
    helpGroup: 'SCHEDULING',
  }),
  'per-server': Flags.integer({
    min: 1,
    max: 256,
    description: 'at most this many tenants of one server at once [default: servers.<name>.concurrency]',
    helpGroup: 'SCHEDULING',
  }),
  timeout: Flags.string({
    description: 'give up on a tenant after this long, e.g. 90s, 10m [default: timeouts.tenant, else none]',
    helpGroup: 'SCHEDULING',
  }),
  bail: Flags.boolean({
    description: 'stop starting tenants after the first failure',
    helpGroup: 'SCHEDULING',
  }),
};

/**
 * Rolling a change out in steps, for the commands that change tenants: a canary first, growing
 * waves with a pause between them, a failure budget.
 */
export const rolloutFlags = {
  canary: Flags.integer({
    min: 1,
    description: 'run this many tenants first (a stable sample) and stop, exit 1, if any fails',
    helpGroup: 'ROLLOUT',
  }),
  'canary-tenants': Flags.string({
    multiple: true,
    description: 'these tenants are the canary (repeatable or comma-separated)',
    helpGroup: 'ROLLOUT',
  }),
  waves: Flags.string({
    description: 'run in growing waves, e.g. 1,10%,50%,100% (cumulative); a failed wave stops the run',
    helpGroup: 'ROLLOUT',
  }),
  'wave-pause': Flags.string({
    description: 'wait this long between waves, e.g. 30s, 5m',
    helpGroup: 'ROLLOUT',
  }),
  'max-failures': Flags.string({
    description: 'start no tenant once this many (N or P%) have failed',
    helpGroup: 'ROLLOUT',
  }),
};

/** Runs are recorded (afty runs): joining one, resuming one. */
export const runFlags = {
  'run-id': Flags.string({
    description:
      'record into this run (shards of one deploy share it) [default: AFTY_RUN_ID, else a new one]',
    helpGroup: 'RUN',
  }),
  resume: Flags.string({
    description:
      "run RUN's command again on its tenants that did not finish ok (failed, locked, timed out, interrupted, never started)",
    helpGroup: 'RUN',
  }),
  'only-failed': Flags.string({
    description: "run RUN's command again on its failed (or locked, or timed out) tenants only",
    helpGroup: 'RUN',
  }),
};

/** Every flag of a command that changes tenants across the fleet. */
export const changeFlags = { ...fleetFlags, ...rolloutFlags, ...runFlags };

/** The selection flags alone, for commands that read the fleet without scheduling work on it. */
export const { tenant, all, status, server, exclude, shard } = fleetFlags;
export const selectionFlags = { tenant, all, status, server, exclude, shard };

import { Flags } from '@oclif/core';
import { TENANT_STATUSES } from '../validation/index.js';

/**
 * Selection and scheduling flags shared by every per-tenant command (DESIGN.md, "Fleet
 * operations"). Repeatable flags have no `default: []`: oclif would print "[default: ]".
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

/** The selection flags alone, for commands that read the fleet without scheduling work on it. */
export const { tenant, all, status, server, exclude } = fleetFlags;
export const selectionFlags = { tenant, all, status, server, exclude };

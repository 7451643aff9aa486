import { Flags } from '@oclif/core';
import { TENANT_STATUSES } from '../validation/index.js';

/** Selection flags shared by every per-tenant command (DESIGN.md, "Fleet operations"). */
export const fleetFlags = {
  tenant: Flags.string({
    char: 't',
    multiple: true,
    default: [],
    description: 'tenant id or domain (repeatable)',
    helpGroup: 'SELECTION',
  }),
  all: Flags.boolean({
    description: 'every tenant (narrowed by --status/--server/--exclude)',
    helpGroup: 'SELECTION',
  }),
  status: Flags.string({
    multiple: true,
    default: [],
    options: [...TENANT_STATUSES],
    description: 'only tenants with this status (repeatable)',
    helpGroup: 'SELECTION',
  }),
  server: Flags.string({
    multiple: true,
    default: [],
    description: 'only tenants on this server (repeatable)',
    helpGroup: 'SELECTION',
  }),
  exclude: Flags.string({
    multiple: true,
    default: [],
    description: 'leave out this tenant (repeatable)',
    helpGroup: 'SELECTION',
  }),
  concurrency: Flags.integer({
    char: 'c',
    min: 1,
    max: 256,
    description: 'tenants worked on at once [default: config concurrency, else min(4, cores×2)]',
  }),
  bail: Flags.boolean({ description: 'stop starting tenants after the first failure' }),
};

import { Flags } from '@oclif/core';
import type { CheckReport } from '../lib/checks/types.js';
import { CheckReportCommand } from '../lib/ui/check-command.js';
import { reportFlags } from '../lib/ui/check-flags.js';
import { fleetFlags } from '../lib/ui/flags.js';

export default class Diagnose extends CheckReportCommand<typeof Diagnose> {
  static summary =
    'Health checks of config, registry, servers, tenants, locks, Redis and tools; --fix repairs the safe ones';
  static description = `Read-only unless --fix. Each finding is ✓ (fine), ! (warning) or ✗ (problem) with a one-line explanation and the remedy. --fix applies only safe repairs — finish half-created tenants as their tenant create was asked to (one whose step fails is undone, as a failed create is), finish or roll back an interrupted restore, create a missing tenant database and migrate it, recreate a missing tenant user with a new password, free a stale migration lock, remove client option files a killed afty left — never drops a tenant's data, and says what it did. Without selection flags every tenant is covered. Exits 0 only when nothing failed.`;
  static examples = [
    '<%= config.bin %> diagnose',
    '<%= config.bin %> diagnose --fix',
    '<%= config.bin %> diagnose --tenant acme --json',
  ];

  static flags = {
    ...fleetFlags,
    ...reportFlags,
    fix: Flags.boolean({ description: 'apply the safe fixes, then check again' }),
  };

  async run(): Promise<CheckReport> {
    const checks = await import('../lib/checks/index.js');
    const ctx = await this.context();
    const report = await this.runSession({
      command: 'diagnose',
      checks: checks.DIAGNOSE_CHECKS,
      afty: ctx,
      registry: () => checks.readOnlyRegistry(ctx),
      selection: this.selection(this.flags),
      concurrency: await this.concurrency(this.flags.concurrency),
      bail: this.flags.bail,
      fix: this.flags.fix,
      options: checks.DEFAULT_CHECK_OPTIONS,
    });
    return this.finish(report, this.flags);
  }
}

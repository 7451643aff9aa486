import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';

export default class RunsPrune extends BaseCommand<typeof RunsPrune> {
  static summary = 'Remove run records older than runs.keepDays (default 90)';
  static description = 'Only the records go: tenants, backups and migrations are not touched.';
  static examples = ['<%= config.bin %> runs prune', '<%= config.bin %> runs prune --keep-days 30 --json'];
  static audited = true;

  static flags = {
    'keep-days': Flags.integer({
      min: 1,
      max: 36500,
      description: 'keep runs this many days [default: runs.keepDays, else 90]',
    }),
  };

  async run(): Promise<{ removed: number; keepDays: number; before: string }> {
    const ctx = await this.context();
    const keepDays = this.flags['keep-days'] ?? ctx.config.runs.keepDays;
    const before = new Date(Date.now() - keepDays * 86_400_000);
    const removed = await (await ctx.registry()).runs.prune(before);
    this.log(
      `Removed ${removed} run${removed === 1 ? '' : 's'} started before ${before.toISOString()} (keeping ${keepDays} days)`,
    );
    return { removed, keepDays, before: before.toISOString() };
  }
}

import { Flags } from '@oclif/core';
import path from 'node:path';
import type { MigrationStatusEntry } from '../../lib/migrations/index.js';
import type { FleetJson, FleetTenantJson } from '../../lib/fleet/index.js';
import { FleetCommand } from '../../lib/ui/fleet-command.js';
import { fleetFlags } from '../../lib/ui/flags.js';

export type TenantStatusJson = FleetTenantJson & {
  applied: number;
  pending: number;
  missing: number;
  lastBatch: number | null;
  lastMigratedAt: string | null;
  locked: boolean;
  migrations: MigrationStatusEntry[];
};

export type StatusJson = FleetJson<
  TenantStatusJson,
  { upToDate: number; behind: number; pending: number; missing: number }
>;

export default class DbStatus extends FleetCommand<typeof DbStatus> {
  static summary =
    'Show which migrations each tenant has applied, which are pending, and which are missing on disk';
  static description =
    'For one tenant: every migration with its batch and time applied, pending, or recorded but missing on disk. For several: one line per tenant plus totals. --check exits 1 when anything is pending or missing (a CI gate). Read-only.';
  static examples = [
    '<%= config.bin %> db status -t acme',
    '<%= config.bin %> db status --all',
    '<%= config.bin %> db status --all --check --json',
  ];

  static flags = {
    ...fleetFlags,
    check: Flags.boolean({ description: 'exit 1 when any tenant has pending or missing migrations' }),
  };

  async run(): Promise<StatusJson> {
    const [lib, { fleetJson }, ui] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/fleet/index.js'),
      import('../../lib/ui/output.js'),
    ]);
    const ctx = await this.context();
    const source = lib.sourceOf(ctx);
    const tenants = await this.selectTenants(this.flags);
    const lastMigrated = new Map(tenants.map((tenant) => [tenant.id, tenant.lastMigratedAt ?? null]));
    const outcome = await this.runOnFleet(
      tenants,
      (tenant) => lib.tenantStatus(lib.targetOf(ctx, tenant), source),
      { verb: 'status', quiet: true },
    );
    const ok = outcome.results.filter((result) => result.status === 'ok').map((result) => result.value!);
    const behind = ok.filter((value) => value.pending || value.missing).length;
    const json: StatusJson = fleetJson(
      outcome.results,
      (result) => ({
        applied: result.value?.applied ?? 0,
        pending: result.value?.pending ?? 0,
        missing: result.value?.missing ?? 0,
        lastBatch: result.value?.lastBatch ?? null,
        lastMigratedAt: lastMigrated.get(result.tenant) ?? null,
        locked: result.value?.locked ?? false,
        migrations: result.value?.migrations ?? [],
      }),
      {
        interrupted: outcome.interrupted,
        totals: {
          upToDate: ok.length - behind,
          behind,
          pending: ok.reduce((sum, value) => sum + value.pending, 0),
          missing: ok.reduce((sum, value) => sum + value.missing, 0),
        },
      },
    );
    const { tenants: rows, totals } = json;
    if (this.flags.check && behind > 0 && !process.exitCode) process.exitCode = 1;
    if (this.jsonEnabled()) return json;

    const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
    const directory = path.relative(process.cwd(), ctx.config.migrations.directory) || '.';
    const none = rows.length > 0 && rows.every((row) => row.status === 'ok' && row.migrations.length === 0);
    if (none && rows.length === 1) {
      this.log(`${rows[0]!.tenant}: no migrations (none in ${directory}, none recorded)`);
    } else if (none) {
      // A table of "0 applied, 0 pending" rows says less than one line.
      this.log(`no migrations in ${directory}, and none recorded by any of the ${rows.length} tenants`);
    } else if (rows.length === 1 && rows[0]!.status === 'ok') {
      const row = rows[0]!;
      this.log(
        await ui.renderTable({
          columns: [
            { header: 'migration', kind: 'id' },
            { header: 'state', kind: 'id' },
            { header: 'batch', kind: 'id' },
            { header: 'applied at', kind: 'id' },
          ],
          rows: row.migrations.map((entry) => [
            entry.name,
            entry.state === 'applied'
              ? ui.color.green('applied')
              : entry.state === 'pending'
                ? ui.color.yellow('pending')
                : ui.color.red('missing on disk'),
            entry.batch,
            when(entry.appliedAt),
          ]),
        }),
      );
      this.log(
        `${row.tenant}: ${row.applied} applied, ${row.pending} pending${row.missing ? `, ${row.missing} missing on disk` : ''}${row.locked ? ', migration lock held' : ''}`,
      );
    } else {
      const state = (row: TenantStatusJson) =>
        row.status !== 'ok'
          ? ui.color.red(`${row.status}: ${row.error}`)
          : `${row.applied} applied, ${row.pending ? ui.color.yellow(`${row.pending} pending`) : '0 pending'}${row.missing ? ui.color.red(`, ${row.missing} missing`) : ''}, last batch ${row.lastBatch ?? '-'}, last migrated ${when(row.lastMigratedAt) || 'never'}${row.locked ? ui.color.yellow(', locked') : ''}`;
      this.log(
        await ui.renderTable({
          columns: [
            { header: 'tenant', kind: 'id' },
            { header: 'migrations', kind: 'text' },
          ],
          rows: rows.map((row) => [row.tenant, state(row)]),
        }),
      );
      this.log(
        `${totals.tenants} tenant${totals.tenants === 1 ? '' : 's'}: ${totals.upToDate} up to date, ${totals.behind} behind (${totals.pending} pending, ${totals.missing} missing)${totals.tenants - totals.ok ? `, ${totals.tenants - totals.ok} failed` : ''}`,
      );
    }
    return json;
  }
}

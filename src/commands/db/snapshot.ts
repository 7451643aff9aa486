import type { EngineKind } from '../../lib/servers/engine.js';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/ui/base-command.js';

interface SnapshotJson {
  file: string;
  driver: EngineKind;
  /** With --check: whether the snapshot matches what the migrations produce. */
  ok: boolean;
  /** The tenant the schema came from; null when built from the migrations in a scratch database. */
  tenant: string | null;
  migrations: number;
  newer: string[];
  differences: string[];
}

export default class DbSnapshot extends BaseCommand<typeof DbSnapshot> {
  static summary =
    'Write the tenant schema snapshot that new tenants load instead of replaying every migration';
  static description = `Without --tenant, the migrations are replayed into a scratch database (dropped afterwards) and its schema is dumped; with --tenant, that fully migrated tenant's schema is. The file (migrations.snapshot) holds the schema, knex's tables, the list of migrations it covers and (built without --tenant) the rows the migrations wrote; tenant create --migrate loads it and then runs only newer migrations. --check proves the snapshot gives what the migrations give (tables, columns with charset and collation, indexes, foreign keys, rows) and exits 1 on drift.`;
  static examples = [
    '<%= config.bin %> db snapshot',
    '<%= config.bin %> db snapshot --tenant acme --output migrations/tenant/schema.sql',
    '<%= config.bin %> db snapshot --check --json',
  ];

  static flags = {
    tenant: Flags.string({
      char: 't',
      description: 'dump this fully migrated tenant instead of a scratch build',
    }),
    server: Flags.string({ description: 'server for scratch databases [default: the first configured]' }),
    output: Flags.string({
      char: 'o',
      description: 'snapshot file [default: migrations.snapshot from the config]',
    }),
    check: Flags.boolean({
      description: 'compare the snapshot with what the migrations produce; exit 1 on drift',
    }),
  };

  async run(): Promise<SnapshotJson> {
    const [lib, { resolveTenant }, path] = await Promise.all([
      import('../../lib/migrations/index.js'),
      import('../../lib/tenants/index.js'),
      import('node:path'),
    ]);
    const ctx = await this.context();
    const source = lib.sourceOf(ctx);
    const file =
      this.flags.output === undefined ? ctx.config.migrations.snapshot : path.resolve(this.flags.output);
    const server = ctx.servers.get(this.flags.server ?? ctx.servers.names[0]!);
    if (!this.flags.check) {
      // Before the scratch build: a path that cannot be written would only fail at the very end.
      const { assertWritableFile } = await import('../../lib/validation/files.js');
      await assertWritableFile(this.flags.output ?? file, {
        what: 'the snapshot',
        flag: this.flags.output === undefined ? 'migrations.snapshot' : '--output',
        createsFolders: true,
      });
    }

    if (this.flags.check) {
      const check = await lib.checkSnapshot(ctx, server, source, file);
      if (!check.ok) process.exitCode = 1;
      this.log(
        check.ok
          ? `${file} matches the migrations (${check.covered} covered${check.newer.length ? `, ${check.newer.length} newer run after it: ${check.newer.join(', ')}` : ''})`
          : `${file} drifted from the migrations:\n${check.differences.map((line) => `  ${line}`).join('\n')}\nrecreate it with afty db snapshot`,
      );
      return {
        file,
        driver: check.driver,
        ok: check.ok,
        tenant: null,
        migrations: check.covered,
        newer: check.newer,
        differences: check.differences,
      };
    }

    let dump;
    let tenantId: string | null = null;
    if (this.flags.tenant) {
      const tenant = await resolveTenant(await ctx.registry(), this.flags.tenant);
      tenantId = tenant.id;
      const target = lib.targetOf(ctx, tenant);
      const status = await lib.tenantStatus(target, source);
      lib.assertFullyMigrated(status.pending, status.missing, tenant.id);
      // A live tenant's rows are its customers' data, never part of a snapshot.
      dump = await lib.dumpSnapshot(target, { rows: false });
    } else {
      dump = await lib.withScratchDatabase(ctx, server, async (target) => {
        await lib.migrateTenant(target, source);
        return lib.dumpSnapshot(target, { rows: true });
      });
    }
    lib.writeSnapshot(file, dump.sql);
    const rows = Object.values(dump.meta.rows ?? {}).reduce((sum, count) => sum + count, 0);
    const tables = Object.keys(dump.meta.rows ?? {}).length;
    this.log(
      `Wrote ${file}: ${dump.meta.driver} schema covering ${dump.meta.migrations.length} migration${dump.meta.migrations.length === 1 ? '' : 's'}${
        tenantId
          ? ` (from tenant ${tenantId}; schema only: rows the migrations write come with a snapshot built without --tenant, and --check shows any they lack)`
          : rows
            ? `, with ${rows} row${rows === 1 ? '' : 's'} the migrations wrote in ${tables} table${tables === 1 ? '' : 's'}`
            : ''
      }`,
    );
    return {
      file,
      driver: dump.meta.driver,
      ok: true,
      tenant: tenantId,
      migrations: dump.meta.migrations.length,
      newer: [],
      differences: [],
    };
  }
}

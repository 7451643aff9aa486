import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { listBackups } from '../../src/lib/backup/index.js';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { resolveTenant } from '../../src/lib/tenants/index.js';
import { BIN, runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { mariadbAdmin, requireMariaDb } from '../support/services.js';
import { seedTenant, tableChecksums, withTenantDb } from '../integration/backup-fixture.js';

interface FleetJson<T> {
  results: Array<{ tenant: string; status: string; error?: string; value?: T }>;
  totals: Record<string, number>;
}

describe('afty backup (CLI, SQLite)', function () {
  this.timeout(120_000);
  let project: TestProject;
  let ctx: AftyContext;
  let tenant: TenantRecord;
  const cli = (args: string[], env?: NodeJS.ProcessEnv) =>
    runCli(args, { cwd: project.dir, env: env ?? project.env });
  const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
  const checksums = () => withTenantDb(ctx, tenant, (db) => tableChecksums(db, 'sqlite'));

  before(async () => {
    project = createProject({ driver: 'sqlite' });
    assert.equal((await cli(['tenant', 'create', 'acme'])).exitCode, 0);
    ctx = await project.context();
    tenant = await resolveTenant(await ctx.registry(), 'acme');
    await withTenantDb(ctx, tenant, (db) => seedTenant(db, 'sqlite', 40));
  });
  after(async () => {
    await ctx?.close();
    await project?.cleanup();
  });

  it('create --json writes an archive and manifest per tenant', async () => {
    const result = await json<
      FleetJson<{ file: string; manifest: string; bytes: number; sha256: string; tables: number }>
    >(['backup', 'create', '--tenant', 'acme']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(result.json.totals, {
      tenants: 1,
      total: 1,
      ok: 1,
      failed: 0,
      skipped: 0,
      locked: 0,
      timeout: 0,
      interrupted: 0,
    });
    const value = result.json.results[0]!.value!;
    assert.match(value.file, /backups\/acme\/\d{8}T\d{6}\.\d{3}Z\.sqlite\.gz$/);
    assert.equal(statSync(value.file).size, value.bytes);
    assert.ok(existsSync(value.manifest), 'existsSync(value.manifest)');
    assert.equal(value.tables, 4);
  });

  it('create --no-compress writes a plain SQLite file', async () => {
    const result = await json<FleetJson<{ file: string }>>('backup create -t acme --no-compress'.split(' '));
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.json.results[0]!.value!.file, /\.sqlite$/);
  });

  it('list shows backups as a table and as JSON', async () => {
    const table = await cli(['backup', 'list']);
    assert.equal(table.exitCode, 0);
    assert.match(table.stdout, /acme .*\.sqlite\.gz/);
    const listed = await json<{ backups: Array<{ tenant: string; tables: number; migrations: number }> }>(
      'backup list --tenant acme'.split(' '),
    );
    assert.equal(listed.json.backups.length, 2);
    assert.deepEqual(
      listed.json.backups.map((backup) => [backup.tenant, backup.tables, backup.migrations]),
      [
        ['acme', 4, 2],
        ['acme', 4, 2],
      ],
    );
    const bad = await cli(['backup', 'list', '--tenant', 'Not A Tenant']);
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /invalid tenant id/);
  });

  it('verify checks the newest backup of each tenant, or a given file', async () => {
    const fleet = await json<FleetJson<{ tables: Array<{ ok: boolean }> }>>(
      'backup verify -t acme'.split(' '),
    );
    assert.equal(fleet.exitCode, 0, fleet.stderr);
    assert.ok(
      fleet.json.results[0]!.value!.tables.every((table) => table.ok),
      'fleet.json.results[0]!.value!.tables.every((table) => table.ok)',
    );
    const [oldest] = (await listBackups(ctx.config.backup.directory, 'acme')).slice(-1);
    const single = await cli(['backup', 'verify', oldest!.path]);
    assert.equal(single.exitCode, 0, single.stderr);
    assert.match(single.stdout, /4 tables match/);
    const missing = await cli(['backup', 'verify', path.join(project.dir, 'nope.sql.gz')]);
    assert.equal(missing.exitCode, 2);
    assert.match(missing.stderr, /no backup manifest/);
  });

  it('restore refuses without --force when not in a terminal, and changes nothing', async () => {
    await withTenantDb(ctx, tenant, (db) => db('authors').insert({ name: 'newer' }));
    const before = await checksums();
    const refused = await cli(['backup', 'restore', '--tenant', 'acme', '--latest']);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /refusing to replace the data of tenant acme .* — pass --force/);
    assert.deepEqual(await checksums(), before);
  });

  it('restore rejects bad input with exit 2 and changes nothing', async () => {
    const before = await checksums();
    const cases: Array<[string[], RegExp]> = [
      [
        ['backup', 'restore', '-t', 'acme', '--force'],
        /say which backup to restore — pass either --file FILE or --latest/,
      ],
      [
        ['backup', 'restore', '-t', 'acme', '--latest', '--file', 'x', '--force'],
        /--file and --latest cannot be used together/,
      ],
      [['backup', 'restore', '-t', 'ghost', '--latest', '--force'], /no tenant with id or domain "ghost"/],
      [
        ['backup', 'restore', '-t', 'acme', '--latest', '--into', 'ghost', '--force'],
        /no tenant with id or domain "ghost"/,
      ],
      [['backup', 'restore', '-t', 'acme', '--file', 'missing.sql.gz', '--force'], /no backup manifest/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      assert.equal(result.exitCode, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    assert.deepEqual(await checksums(), before);
  });

  it('restore --force swaps the backup in and keeps the previous data', async () => {
    const result = await json<{ tenant: string; safetyCopy: string; tables: Array<{ ok: boolean }> }>(
      'backup restore -t acme --latest --force'.split(' '),
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.json.tenant, 'acme');
    assert.match(result.json.safetyCopy, /^t\w+_acme\$s\d{15}$/);
    const names = await withTenantDb(ctx, tenant, (db) => db('authors').pluck('name'));
    assert.ok(!names.includes('newer'), "!names.includes('newer')");
  });

  it('prune validates its flags, reports with --dry-run and removes with --force', async () => {
    for (const [args, message] of [
      [['backup', 'prune', '--force'], /pass --tenant ID \(repeatable\) or --all/],
      [['backup', 'prune', '--all', '--max-age', '3x', '--force'], /invalid age "3x"/],
      [['backup', 'prune', '--all', '--keep', '0', '--force'], /--keep must be at least 1 \(got 0\)/],
      [['backup', 'prune', '--all', '--keep', '1'], /refusing to prune .* — pass --force/],
    ] as Array<[string[], RegExp]>) {
      const result = await cli(args);
      assert.equal(result.exitCode, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    const before = (await listBackups(ctx.config.backup.directory, 'acme')).length;
    const dry = await json<{ dryRun: boolean; results: Array<{ removed: Array<{ kind: string }> }> }>(
      'backup prune --all --keep 1 --dry-run'.split(' '),
    );
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.equal(dry.json.dryRun, true);
    const kinds = dry.json.results.flatMap((result) => result.removed.map((item) => item.kind));
    assert.deepEqual(kinds.filter((kind) => kind === 'archive').length, before - 1);
    assert.equal((await listBackups(ctx.config.backup.directory, 'acme')).length, before);
    const real = await cli(['backup', 'prune', '--tenant', 'acme', '--keep', '1', '--force']);
    assert.equal(real.exitCode, 0, real.stderr);
    assert.match(real.stdout, /Removed 1 item, kept 2/);
    assert.equal((await listBackups(ctx.config.backup.directory, 'acme')).length, 1);
  });

  it('tenant delete backs up first; a failing backup deletes nothing; --no-backup skips it', async () => {
    for (const id of ['gone', 'kept', 'quick'])
      assert.equal((await cli(['tenant', 'create', id])).exitCode, 0);
    // A file where the tenant's backup folder should be makes the backup fail.
    writeFileSync(path.join(ctx.config.backup.directory, 'kept'), 'not a folder');
    const failed = await cli(['tenant', 'delete', 'kept', '--force']);
    assert.equal(failed.exitCode, 1);
    assert.match(failed.stderr, /tenant kept: backup before delete failed: .* — nothing was deleted/);
    assert.ok(
      await (await ctx.registry()).findTenant('kept'),
      "await (await ctx.registry()).findTenant('kept')",
    );
    assert.ok(existsSync(path.join(project.dir, '.afty/tenants', `${project.prefix}kept.sqlite`)));

    const deleted = await json<{ backup: string | null; databaseDropped: boolean }>(
      'tenant delete gone --force'.split(' '),
    );
    assert.equal(deleted.exitCode, 0, deleted.stderr);
    assert.ok(
      deleted.json.backup && existsSync(deleted.json.backup),
      'deleted.json.backup && existsSync(deleted.json.backup)',
    );
    assert.equal(deleted.json.databaseDropped, true);
    // Backups of deleted tenants are still listed.
    const listed = await json<{ backups: Array<{ tenant: string }> }>(['backup', 'list']);
    assert.ok(
      listed.json.backups.some((backup) => backup.tenant === 'gone'),
      "listed.json.backups.some((backup) => backup.tenant === 'gone')",
    );

    const quick = await json<{ backup: string | null }>('tenant delete quick --force --no-backup'.split(' '));
    assert.equal(quick.exitCode, 0, quick.stderr);
    assert.equal(quick.json.backup, null);
    assert.ok(!existsSync(path.join(ctx.config.backup.directory, 'quick')));
    rmSync(path.join(ctx.config.backup.directory, 'kept'));
  });
});

describe('afty backup (CLI, MariaDB): passwords, missing tools, killed dumps and restores', function () {
  this.timeout(300_000);
  let project: TestProject;
  let ctx: AftyContext;
  let tenant: TenantRecord;
  const password = 'Pw-never-in-ps-9f3k';
  const cli = (args: string[], env?: NodeJS.ProcessEnv) =>
    runCli(args, { cwd: project.dir, env: env ?? project.env });
  const checksums = () => withTenantDb(ctx, tenant, (db) => tableChecksums(db, 'mysql'));
  /** The CLI in the background, for tests that watch or kill it. */
  const spawn = (args: string[]) =>
    execa('node', [BIN, ...args], {
      cwd: project.dir,
      env: project.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
  const companions = async () => ctx.servers.get(tenant.server).listDatabases(`${tenant.database}$`);

  before(async () => {
    await requireMariaDb();
    project = createProject({ driver: 'mariadb' });
    // The server URL carries a password: a dedicated admin user (dropped with the project's users).
    const user = `${project.prefix}adm`;
    writeFileSync(
      path.join(project.dir, 'afty.config.json'),
      JSON.stringify({
        ...project.config,
        servers: { default: `mysql://${user}:${password}@127.0.0.1:3306` },
      }),
    );
    const admin = await mariadbAdmin();
    try {
      await admin.raw('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password]);
      await admin.raw('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [user, '%']);
    } finally {
      await admin.destroy();
    }
    ctx = await project.context();
    const { Registry } = await import('../../src/lib/registry/index.js');
    await Registry.createDatabase(ctx.config.central);
    const created = await cli(['tenant', 'create', 'big']);
    assert.equal(created.exitCode, 0, created.stderr);
    tenant = await resolveTenant(await ctx.registry(), 'big');
    await withTenantDb(ctx, tenant, async (db) => {
      await seedTenant(db, 'mysql', 20);
      // Enough rows (~50 MB) that a dump and a load take long enough to be observed and killed.
      await db.raw(
        'CREATE TABLE bulk (id INT AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(255)) ENGINE=InnoDB',
      );
      await db.raw('INSERT INTO bulk (payload) SELECT REPEAT(MD5(seq), 6) FROM seq_1_to_1000');
      for (let round = 0; round < 8; round += 1) {
        await db.raw('INSERT INTO bulk (payload) SELECT REPEAT(MD5(RAND()), 6) FROM bulk');
      }
    });
  });
  after(async () => {
    await ctx?.close();
    await project?.cleanup();
  });

  it('never shows a password in ps output while dumping', async () => {
    const tenantPassword = (await import('../../src/lib/tenants/index.js')).tenantLocation(ctx, tenant);
    const secrets = [
      password,
      (tenantPassword as { connection: { password?: string } }).connection.password!,
    ];
    const child = spawn(['backup', 'create', '-t', 'big']);
    const seen = new Set<string>();
    let finished = false;
    void child.finally(() => {
      finished = true;
    });
    while (!finished) {
      const { stdout } = await execa('ps', ['-eo', 'args', '--no-headers', '-ww']);
      for (const line of stdout.split('\n')) seen.add(line);
    }
    const result = await child;
    assert.equal(result.exitCode, 0, result.stderr);
    // The dump itself (it names the database); afty's `mariadb-dump --version` probe may be sampled too.
    const dumpLines = [...seen].filter(
      (line) => /mariadb-dump|mysqldump/.test(line) && line.includes(tenant.database),
    );
    assert.ok(dumpLines.length > 0, 'the dump process was never observed');
    const withoutOptionFile = dumpLines.filter((line) => !line.includes('--defaults-extra-file='));
    assert.deepEqual(withoutOptionFile, [], 'every dump reads its credentials from an option file');
    for (const secret of secrets) {
      assert.ok(![...seen].some((line) => line.includes(secret)), 'a password appeared in ps output');
      assert.ok(
        !result.stdout.includes(secret) && !result.stderr.includes(secret),
        '!result.stdout.includes(secret) && !result.stderr.includes(secret)',
      );
    }
  });

  it('a missing dump tool exits 3 naming the Debian package, before any work', async () => {
    // A PATH with nothing but node on it.
    const bin = path.join(project.dir, 'only-node');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const env = { ...project.env, PATH: bin };
    const result = await cli(['backup', 'create', '-t', 'big'], env);
    assert.equal(result.exitCode, 3, result.stderr);
    assert.match(result.stderr, /neither mariadb-dump nor mysqldump is installed .* mariadb-client/);
    const deleting = await cli(['tenant', 'delete', 'big', '--force'], env);
    assert.equal(deleting.exitCode, 3);
    assert.match(deleting.stderr, /nothing was deleted/);
    assert.ok(
      await (await ctx.registry()).findTenant('big'),
      "await (await ctx.registry()).findTenant('big')",
    );
  });

  it('a dump killed half-way leaves nothing that looks like a backup', async () => {
    const directory = path.join(ctx.config.backup.directory, 'big');
    const before = await listBackups(ctx.config.backup.directory, 'big');
    const child = spawn(['backup', 'create', '-t', 'big']);
    const partial = await waitFor(() =>
      readdirSync(directory).find(
        (name) => name.endsWith('.partial') && statSync(path.join(directory, name)).size > 100_000,
      ),
    );
    child.kill('SIGKILL');
    await child;
    assert.ok(partial, 'partial');
    const after = await listBackups(ctx.config.backup.directory, 'big');
    assert.deepEqual(
      after.map((entry) => entry.path),
      before.map((entry) => entry.path),
    );
    const visible = readdirSync(directory).filter((name) => !name.startsWith('.'));
    assert.equal(visible.length, before.length * 2);
  });

  it('a restore killed half-way leaves the tenant unchanged', async () => {
    await withTenantDb(ctx, tenant, (db) => db('authors').insert({ name: 'after the backup' }));
    const before = await checksums();
    const child = spawn(['backup', 'restore', '-t', 'big', '--latest', '--force']);
    const scratch = await waitFor(async () => {
      const [name] = await companions();
      if (!name?.includes('$r')) return undefined;
      const admin = await mariadbAdmin();
      try {
        const [rows] = (await admin.raw(
          'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ?',
          [name],
        )) as [Array<{ n: number }>];
        return Number(rows[0]!.n) >= 2 ? name : undefined;
      } finally {
        await admin.destroy();
      }
    });
    child.kill('SIGKILL');
    await child;
    assert.ok(scratch, 'scratch');
    assert.deepEqual(await checksums(), before);
    assert.ok(!(await companions()).some((name) => name.includes('$s')), 'no swap happened');
    // The scratch database is the only leftover; it is not the tenant's data.
    await waitFor(async () => {
      try {
        await ctx.servers.get(tenant.server).dropDatabase(scratch!);
        return true;
      } catch {
        return undefined;
      }
    });
  });
});

async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

import assert from 'node:assert/strict';
import { execa } from 'execa';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { resolveTenant, tenantLocation } from '../../src/lib/tenants/index.js';
import { BIN, runCli, runJson, runUntilPaused } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { postgresAdmin, requirePostgres } from '../support/services.js';
import { pgFingerprint, seedPostgresTenant, withPgTenant } from '../integration/backup-postgres-fixture.js';

interface FleetJson<T> {
  results: Array<{ tenant: string; status: string; error?: string; value?: T }>;
}

/** The swap's steps in order (postgres/backup.ts), and whether the restored data had taken the tenant's name. */
const KILL_POINTS = {
  database: [
    { step: 'restore loaded', swapped: false },
    { step: 'prepare restored database', swapped: false },
    // Between the two renames the tenant's name is free: recovery gives it the verified restored copy.
    { step: 'set aside current database', swapped: true },
    { step: 'rename restored database', swapped: true },
  ],
  schema: [
    { step: 'restore loaded', swapped: false },
    { step: 'prepare restored schema', swapped: false },
    { step: 'rename schemas uncommitted', swapped: false },
    { step: 'rename schemas', swapped: true },
  ],
} as const;

for (const mode of ['database', 'schema'] as const) {
  describe(`afty backup on PostgreSQL, a ${mode} per tenant (CLI)`, function () {
    this.timeout(180_000);
    let project: TestProject;
    let ctx: AftyContext;
    let tenant: TenantRecord;
    let archive: Awaited<ReturnType<typeof pgFingerprint>>;
    const password = `Pg-never-in-ps-${mode}`;
    const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
    const json = <T>(args: string[]) => runJson<T>(args, { cwd: project.dir, env: project.env });
    const RESTORE = ['backup', 'restore', '-t', 'acme', '--latest', '--force'];
    const fingerprint = () => withPgTenant(ctx, tenant, pgFingerprint);
    const journal = () => path.join(project.dir, 'backups', 'acme', '.restore-journal.json');
    /** Databases and schemas named after the tenant's: the live one, safety copies, scratches. */
    async function footprint(): Promise<string[]> {
      const admin = await postgresAdmin(mode === 'schema' ? `afty_app_${project.token}` : undefined);
      const like = `${tenant.database.replace(/_/g, '\\_')}%`;
      try {
        const { rows } = (await admin.raw(
          `SELECT 'database ' || datname AS name FROM pg_database WHERE datname LIKE ?
           UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname LIKE ? ORDER BY 1`,
          [like, like],
        )) as { rows: Array<{ name: string }> };
        return rows.map((row) => row.name.replace(tenant.database, '<tenant>').replace(/\$s\d+$/, '$s…'));
      } finally {
        await admin.destroy();
      }
    }
    async function dropSafetyCopies(): Promise<void> {
      const server = ctx.servers.get(tenant.server);
      for (const copy of await server.listDatabases(`${tenant.database}$`)) await server.dropDatabase(copy);
    }

    before(async () => {
      await requirePostgres();
      project = createProject({ driver: mode === 'schema' ? 'postgres-schema' : 'postgres' });
      await project.createCentral();
      // The server URL carries a password, so the test can prove it never reaches a ps line (the
      // test server trusts local logins, so any password is accepted).
      const admin = await postgresAdmin();
      const user = `${project.prefix}adm`;
      try {
        await admin.raw(`CREATE ROLE "${user}" LOGIN SUPERUSER PASSWORD '${password}'`);
      } finally {
        await admin.destroy();
      }
      const server = (project.config.servers as { default: string }).default.replace(
        '//postgres@',
        `//${user}:${password}@`,
      );
      writeFileSync(
        path.join(project.dir, 'afty.config.json'),
        JSON.stringify({ ...project.config, servers: { default: server } }),
      );
      const created = await cli(['tenant', 'create', 'acme']);
      assert.equal(created.exitCode, 0, created.stderr);
      ctx = await project.context();
      tenant = await resolveTenant(await ctx.registry(), 'acme');
      await withPgTenant(ctx, tenant, (db) => seedPostgresTenant(db, 40), true);
      archive = await fingerprint();
    });
    after(async () => {
      await ctx?.close();
      await project?.cleanup();
    });

    it('create --json writes a .pgdump.gz with its manifest; list shows it; no password in argv or on a ps line', async () => {
      // Spies record each tool's arguments and environment, then wait a moment so ps sees them.
      const bin = path.join(project.dir, 'spy-bin');
      mkdirSync(bin);
      for (const tool of ['pg_dump', 'pg_restore']) {
        const real = (await execa('sh', ['-c', `command -v ${tool}`])).stdout.trim();
        writeFileSync(
          path.join(bin, tool),
          `#!/bin/sh\nprintf '%s\\n' "$*" >> "${bin}/${tool}.args"\nenv >> "${bin}/${tool}.env"\nsleep 0.3\nexec ${real} "$@"\n`,
        );
        chmodSync(path.join(bin, tool), 0o755);
      }
      const env = { ...project.env, PATH: `${bin}:${process.env.PATH}` };
      const seen = new Set<string>();
      const sampled = async (args: string[]) => {
        const child = execa('node', [BIN, ...args], {
          cwd: project.dir,
          env,
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
        });
        let done = false;
        void child.finally(() => {
          done = true;
        });
        while (!done) {
          const { stdout } = await execa('ps', ['-eo', 'args', '--no-headers', '-ww']);
          for (const line of stdout.split('\n')) seen.add(line);
          await delay(25);
        }
        return child;
      };
      const result = await sampled(['backup', 'create', '-t', 'acme', '--json']);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal((await sampled(['backup', 'verify', '-t', 'acme'])).exitCode, 0);
      assert.ok(
        [...seen].some((line) => /pg_dump .*--format=custom/.test(line)),
        'the dump was seen on a ps line',
      );
      const secrets = [
        password,
        (tenantLocation(ctx, tenant) as { connection: { password?: string } }).connection.password!,
      ];
      for (const tool of ['pg_dump', 'pg_restore']) {
        const args = readFileSync(path.join(bin, `${tool}.args`), 'utf8');
        const environment = readFileSync(path.join(bin, `${tool}.env`), 'utf8');
        assert.match(environment, /^PGPASSFILE=/m, `${tool} reads its password from a file`);
        assert.doesNotMatch(environment, /^PGPASSWORD=/m);
        for (const secret of secrets) {
          assert.ok(!args.includes(secret) && !environment.includes(secret), `${tool}: a password leaked`);
        }
      }
      for (const secret of secrets) {
        assert.ok(![...seen].some((line) => line.includes(secret)), 'a password appeared in ps output');
        assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), 'a password in output');
      }
      const value = (JSON.parse(result.stdout) as FleetJson<{ file: string; tables: number }>).results[0]!
        .value!;
      assert.match(value.file, /backups\/acme\/\d{8}T\d{6}\.\d{3}Z\.pgdump\.gz$/);
      assert.equal(value.tables, 4);

      const listed = await json<{ backups: Array<{ tenant: string; file: string }> }>(['backup', 'list']);
      assert.equal(listed.exitCode, 0, listed.stderr);
      assert.deepEqual(
        listed.json.backups.map((backup) => [backup.tenant, backup.file]),
        [['acme', value.file]],
      );
    });

    it('verify restores into a scratch copy, says the tables match and leaves nothing behind', async () => {
      const before = await footprint();
      const result = await cli(['backup', 'verify', '-t', 'acme']);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, /acme\s+ok\s+.*\.pgdump\.gz: 4 tables match/);
      assert.deepEqual(await footprint(), before);
    });

    it('restore without --force when not interactive is exit 2 and changes nothing', async () => {
      const before = await fingerprint();
      const result = await cli(['backup', 'restore', '-t', 'acme', '--latest']);
      assert.equal(result.exitCode, 2, result.stderr);
      assert.match(result.stderr, /--force/);
      assert.deepEqual(await fingerprint(), before);
    });

    it('restore --force brings the rows back and keeps the previous data as a safety copy', async () => {
      await withPgTenant(ctx, tenant, (db) => db('posts').where('id', '<', 10).delete());
      const result = await cli(RESTORE);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, /Restored tenant acme from .*\.pgdump\.gz; the previous data is kept as /);
      assert.deepEqual(await fingerprint(), archive);
      assert.deepEqual(await footprint(), [`${mode} <tenant>`, `${mode} <tenant>$s…`]);
    });

    for (const { step, swapped } of KILL_POINTS[mode]) {
      it(`killed -9 after "${step}", diagnose --fix ends it ${swapped ? 'as the archive' : 'as before'} (one live copy)`, async () => {
        await dropSafetyCopies();
        await withPgTenant(ctx, tenant, (db) => db('authors').insert({ name: `before ${step}` }));
        const before = await fingerprint();
        const paused = await runUntilPaused(RESTORE, step, { cwd: project.dir, env: project.env });
        paused.child.kill('SIGKILL');
        await paused.ended;
        assert.ok(existsSync(journal()), 'the journal says a restore was cut short');

        // diagnose --fix ends it from the journal, exactly as a rerun restore would begin.
        const fixed = await cli(['diagnose', '--fix']);
        assert.ok(!existsSync(journal()), `the journal is gone: ${fixed.stdout}${fixed.stderr}`);
        assert.deepEqual(await fingerprint(), swapped ? archive : before);
        assert.deepEqual(
          await footprint(),
          swapped ? [`${mode} <tenant>`, `${mode} <tenant>$s…`] : [`${mode} <tenant>`],
        );
        if (swapped) {
          const [copy] = await ctx.servers.get(tenant.server).listDatabases(`${tenant.database}$s`);
          const kept = await withPgTenant(ctx, { ...tenant, database: copy! }, pgFingerprint);
          assert.deepEqual(kept, before);
        }
        // The tenant's own role still reads its data.
        const rows = await withPgTenant(ctx, tenant, (db) => db('posts').count({ n: '*' }), true);
        assert.equal(Number((rows as Array<{ n: string }>)[0]!.n), 40);
      });
    }

    it('a rerun restore after a kill names what it ended and restores', async () => {
      await dropSafetyCopies();
      const paused = await runUntilPaused(RESTORE, KILL_POINTS[mode].at(-1)!.step, {
        cwd: project.dir,
        env: project.env,
      });
      paused.child.kill('SIGKILL');
      await paused.ended;
      const again = await cli(RESTORE);
      assert.equal(again.exitCode, 0, again.stderr);
      assert.match(again.stderr, /finished the interrupted restore of acme/);
      assert.deepEqual(await fingerprint(), archive);
    });

    it('tenant delete backs up first, then drops the database, its safety copies and role', async () => {
      const result = await cli(['tenant', 'delete', 'acme', '--force']);
      assert.equal(result.exitCode, 0, result.stderr);
      const backup = /Backup: (\S+\.pgdump\.gz)/.exec(result.stdout + result.stderr)?.[1];
      assert.ok(backup && existsSync(backup), `${result.stdout}\n${result.stderr}`);
      assert.deepEqual(await footprint(), []);
      assert.equal(await ctx.servers.get(tenant.server).userExists(tenant.dbUser!), false);
      const verified = await cli(['backup', 'verify', backup]);
      assert.equal(verified.exitCode, 0, verified.stderr);
      assert.deepEqual(await footprint(), []);
    });
  });
}

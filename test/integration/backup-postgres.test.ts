import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  createBackup,
  latestBackup,
  listBackups,
  pruneBackups,
  restoreBackup,
  verifyBackup,
  type BackupEntry,
} from '../../src/lib/backup/index.js';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { createTenant } from '../../src/lib/tenants/index.js';
import { createProject, type TestProject } from '../support/project.js';
import { postgresAdmin, requirePostgres } from '../support/services.js';
import {
  exercisePostgresObjects,
  pgFingerprint,
  seedPostgresTenant,
  withPgTenant,
} from './backup-postgres-fixture.js';

const options = { compress: true, aftyVersion: '0.0.0-test' };

for (const mode of ['database', 'schema'] as const) {
  describe(`backup round trip on PostgreSQL, a ${mode} per tenant`, function () {
    this.timeout(120_000);
    let project: TestProject;
    let ctx: AftyContext;
    let tenant: TenantRecord;
    let original: Awaited<ReturnType<typeof pgFingerprint>>;
    const shared = () => `afty_app_${project.token}`;

    const fingerprint = (record = tenant) => withPgTenant(ctx, record, pgFingerprint);
    /** Every database and schema named after the tenant's (safety copies, scratches, staging). */
    async function companions(record = tenant): Promise<string[]> {
      const admin = await postgresAdmin(mode === 'schema' ? shared() : undefined);
      const like = `${record.database.replace(/_/g, '\\_')}$%`;
      try {
        const { rows } = (await admin.raw(
          `SELECT 'database ' || datname AS name FROM pg_database WHERE datname LIKE ?
           UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname LIKE ? ORDER BY 1`,
          [like, like],
        )) as { rows: Array<{ name: string }> };
        return rows.map((row) => row.name);
      } finally {
        await admin.destroy();
      }
    }
    /** Owner and access list of the tenant's database (or schema), PUBLIC's entry included. */
    async function privileges(record = tenant): Promise<{ owner: string; acl: string | null }> {
      const admin = await postgresAdmin(mode === 'schema' ? shared() : undefined);
      try {
        const { rows } = (await admin.raw(
          mode === 'schema'
            ? 'SELECT pg_get_userbyid(nspowner) AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname = ?'
            : 'SELECT pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database WHERE datname = ?',
          [record.database],
        )) as { rows: Array<{ owner: string; acl: string | null }> };
        return rows[0]!;
      } finally {
        await admin.destroy();
      }
    }

    before(async () => {
      await requirePostgres();
      project = createProject({ driver: mode === 'schema' ? 'postgres-schema' : 'postgres' });
      await project.createCentral();
      ctx = await project.context();
      tenant = await createTenant(ctx, { id: 'acme' });
      await withPgTenant(ctx, tenant, (db) => seedPostgresTenant(db, 120), true);
      original = await fingerprint();
      assert.ok(
        original.objects.every((object) => !/ postgres$/.test(object)),
        original.objects.join(),
      );
    });
    after(async () => {
      await ctx?.close();
      await project?.cleanup();
    });

    it('writes a pg_dump custom-format archive, gzipped once, and a manifest that describes it', async () => {
      const entry = await createBackup(ctx, tenant, options);
      assert.match(path.basename(entry.path), /^\d{8}T\d{6}\.\d{3}Z\.pgdump\.gz$/);
      assert.deepEqual(
        readdirSync(path.dirname(entry.path)).sort(),
        [path.basename(entry.manifestPath), path.basename(entry.path)].sort(),
      );
      const { manifest } = entry;
      assert.equal(manifest.driver, 'postgres');
      assert.equal(manifest.dumpTool, 'pg_dump');
      assert.match(manifest.serverVersion, /^PostgreSQL 1\d/);
      assert.deepEqual(manifest.migrations, ['20240101000000_authors.js', '20240102000000_posts.js']);
      assert.deepEqual(manifest.tables.map((table) => `${table.name}:${table.type}`).sort(), [
        'authors:table',
        'knex_migrations:table',
        'post_titles:view',
        'posts:table',
      ]);
      // Never analyzed yet: no estimate, so the rows were counted.
      assert.deepEqual(
        manifest.tables.find((table) => table.name === 'posts'),
        { name: 'posts', type: 'table', rows: 120, rowsExact: true },
      );
      const { gunzipSync } = await import('node:zlib');
      const inner = gunzipSync(readFileSync(entry.path));
      assert.equal(inner.subarray(0, 5).toString(), 'PGDMP', 'custom format inside');
      // Uncompressed custom format inside (-Z0): gzip is the one compression pass.
      assert.ok(
        inner.length > readFileSync(entry.path).length * 2,
        'the archive is compressed once, by gzip',
      );
    });

    it('without compression the archive is a plain .pgdump that pg_restore reads as is', async () => {
      const entry = await createBackup(ctx, tenant, { ...options, compress: false });
      assert.match(path.basename(entry.path), /\.pgdump$/);
      const { stdout } = await execa('pg_restore', ['--list', entry.path]);
      assert.match(stdout, /TABLE DATA \S+ posts /);
      await verifyBackup(ctx, entry);
      const { rm } = await import('node:fs/promises');
      await rm(entry.manifestPath);
      await rm(entry.path);
    });

    it('a failing dump leaves no file behind and names the database', async () => {
      const missing = { ...tenant, id: 'ghost', database: `${project.prefix}ghost` };
      await assert.rejects(createBackup(ctx, missing, options), (error: Error & { exitCode?: number }) => {
        assert.equal(error.exitCode, 1);
        assert.match(error.message, new RegExp(`${mode} ${project.prefix}ghost.* does not exist`));
        return true;
      });
      assert.deepEqual(readdirSync(path.join(ctx.config.backup.directory, 'ghost')), []);
    });

    it('verifies with a test restore and leaves no scratch (nor staging) database behind', async () => {
      const entry = await latestBackup(ctx.config.backup.directory, 'acme');
      const result = await verifyBackup(ctx, entry);
      assert.ok(
        result.tables.every((table) => table.ok),
        JSON.stringify(result.tables),
      );
      assert.equal(result.tables.find((table) => table.name === 'posts')!.restoredRows, 120);
      assert.deepEqual(await companions(), []);
    });

    it('restores: rows back, owned by the tenant role, privileges as before, the role connects and reads', async () => {
      const entry = await latestBackup(ctx.config.backup.directory, 'acme');
      const grantsBefore = await privileges();
      assert.equal(grantsBefore.owner, tenant.dbUser);
      if (mode === 'database') assert.ok(!/(^|[{,])=/.test(grantsBefore.acl ?? ''), 'PUBLIC has nothing');
      await withPgTenant(ctx, tenant, async (db) => {
        await db('posts').where('id', '<', 10).delete();
        await db('authors').insert({ name: 'intruder' });
      });
      const changed = await fingerprint();
      assert.notDeepEqual(changed, original);

      const result = await restoreBackup(ctx, entry, tenant);
      assert.deepEqual(await fingerprint(), original);
      assert.deepEqual(await privileges(), grantsBefore);
      const asTenant = await withPgTenant(
        ctx,
        tenant,
        async (db) => ({
          posts: Number(((await db('posts').count({ n: '*' })) as Array<{ n: string }>)[0]!.n),
          objects: await exercisePostgresObjects(db),
        }),
        true,
      );
      assert.deepEqual(asTenant, { posts: 120, objects: { slug: 'auto-fresh', viewRows: 121 } });
      assert.deepEqual(await companions(), [`${mode} ${result.safetyCopy}`]);
      assert.deepEqual(await fingerprint({ ...tenant, database: result.safetyCopy }), changed);
    });

    it("clones into another tenant (restore --into): owned by that tenant's role, the source untouched", async () => {
      const beta = await createTenant(ctx, { id: 'beta' });
      const entry = await latestBackup(ctx.config.backup.directory, 'acme');
      await restoreBackup(ctx, entry, beta);
      const cloned = await fingerprint(beta);
      assert.deepEqual(cloned.tables, original.tables);
      assert.deepEqual(
        cloned.objects,
        original.objects.map((object) => object.replace(tenant.dbUser!, beta.dbUser!)),
      );
      assert.deepEqual(await fingerprint(), original);
      const rows = await withPgTenant(ctx, beta, (db) => db('posts').count({ n: '*' }), true);
      assert.equal(Number((rows as Array<{ n: string }>)[0]!.n), 120);
      const server = ctx.servers.get(beta.server);
      for (const copy of await server.listDatabases(`${beta.database}$`)) await server.dropDatabase(copy);
    });

    for (const damage of ['truncated', 'flipped byte', 'flipped byte with a matching manifest'] as const) {
      it(`a ${damage} archive is refused and nothing changes`, async () => {
        const good = await latestBackup(ctx.config.backup.directory, 'acme');
        const copy = path.join(path.dirname(good.path), `damaged-${damage.replace(/\W/g, '')}.pgdump.gz`);
        const bytes = readFileSync(good.path);
        if (damage === 'truncated') {
          writeFileSync(copy, bytes);
          truncateSync(copy, Math.floor(bytes.length / 2));
        } else {
          const flipped = Buffer.from(bytes);
          flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
          writeFileSync(copy, flipped);
        }
        const manifest = { ...good.manifest, file: path.basename(copy) };
        if (damage === 'flipped byte with a matching manifest') {
          manifest.sha256 = createHash('sha256').update(readFileSync(copy)).digest('hex');
        }
        const entry: BackupEntry = { path: copy, manifestPath: `${copy}.json`, manifest };
        const before = await fingerprint();
        const companionsBefore = await companions();
        await assert.rejects(restoreBackup(ctx, entry, tenant), (error: Error & { exitCode?: number }) => {
          assert.equal(error.exitCode, 1);
          assert.match(
            error.message,
            damage === 'flipped byte with a matching manifest' ? /cannot read archive .*damaged/ : /corrupt/,
          );
          return true;
        });
        assert.deepEqual(await fingerprint(), before);
        assert.deepEqual(await companions(), companionsBefore);
      });
    }

    const steps =
      mode === 'database'
        ? ['prepare restored database', 'set aside current database', 'rename restored database']
        : ['prepare restored schema', 'rename schemas'];
    for (const [index, step] of steps.entries()) {
      it(`a failure after swap step "${step}" leaves the tenant as it was`, async () => {
        const entry = await latestBackup(ctx.config.backup.directory, 'acme');
        await withPgTenant(ctx, tenant, (db) => db('authors').insert({ name: `after ${step}` }));
        const before = await fingerprint();
        const grantsBefore = await privileges();
        const companionsBefore = await companions();
        await assert.rejects(
          restoreBackup(ctx, entry, tenant, {
            afterStep(name) {
              if (name === steps[index]) throw new Error('injected failure');
            },
          }),
          /injected failure/,
        );
        assert.deepEqual(await fingerprint(), before);
        assert.deepEqual(await privileges(), grantsBefore);
        assert.deepEqual(await companions(), companionsBefore);
      });
    }

    it('prune drops expired safety copies and archives, keeping the newest archive', async () => {
      const copies = (await companions()).filter((name) => name.includes('$s'));
      assert.equal(copies.length, 1);
      const all = await listBackups(ctx.config.backup.directory, 'acme');
      const result = await pruneBackups(ctx, 'acme', {
        keep: 1,
        maxAgeMs: 1000,
        dryRun: false,
        now: new Date(Date.now() + 60_000),
      });
      assert.deepEqual(
        result.removed.map((item) => item.kind).sort(),
        [...all.slice(1).map(() => 'archive'), 'safety-copy'].sort(),
      );
      assert.deepEqual(await companions(), []);
      assert.equal((await listBackups(ctx.config.backup.directory, 'acme')).length, 1);
    });
  });
}

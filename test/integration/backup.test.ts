import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  createBackup,
  latestBackup,
  listBackups,
  pruneBackups,
  readBackup,
  restoreBackup,
  verifyBackup,
  type BackupEntry,
} from '../../src/lib/backup/index.js';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { createTenant } from '../../src/lib/tenants/index.js';
import { createProject, type TestProject } from '../support/project.js';
import { requireMariaDb } from '../support/services.js';
import { exerciseObjects, seedTenant, tableChecksums, withTenantDb } from './backup-fixture.js';

const options = { compress: true, aftyVersion: '0.0.0-test' };

for (const driver of ['mariadb', 'sqlite'] as const) {
  const engine = driver === 'mariadb' ? 'mysql' : 'sqlite';

  describe(`backup round trip on ${driver}`, function () {
    this.timeout(120_000);
    let project: TestProject;
    let ctx: AftyContext;
    let tenant: TenantRecord;
    let original: Record<string, string>;

    const checksums = (record = tenant) => withTenantDb(ctx, record, (db) => tableChecksums(db, engine));
    const companions = async (record = tenant) =>
      (await ctx.servers.get(record.server).listDatabases(`${record.database}$`)).sort();

    before(async () => {
      if (driver === 'mariadb') await requireMariaDb();
      project = createProject({ driver });
      ctx = await project.context();
      if (driver === 'mariadb') {
        const { Registry } = await import('../../src/lib/registry/index.js');
        await Registry.createDatabase(ctx.config.central);
      }
      tenant = await createTenant(ctx, { id: 'acme' });
      await withTenantDb(ctx, tenant, (db) => seedTenant(db, engine, 300));
      original = await checksums();
    });
    after(async () => {
      await ctx?.close();
      await project?.cleanup();
    });

    it('creates an archive and a manifest that describes it', async () => {
      const entry = await createBackup(ctx, tenant, options);
      const directory = path.join(ctx.config.backup.directory, 'acme');
      assert.match(path.basename(entry.path), /^\d{8}T\d{6}\.\d{3}Z\.(sql|sqlite)\.gz$/);
      assert.deepEqual(
        readdirSync(directory).sort(),
        [path.basename(entry.manifestPath), path.basename(entry.path)].sort(),
      );
      const manifest = JSON.parse(readFileSync(entry.manifestPath, 'utf8')) as BackupEntry['manifest'];
      assert.equal(manifest.bytes, statSync(entry.path).size);
      assert.match(manifest.sha256, /^[0-9a-f]{64}$/);
      assert.equal(manifest.tenant, 'acme');
      assert.equal(manifest.driver, engine);
      assert.equal(manifest.aftyVersion, '0.0.0-test');
      assert.deepEqual(manifest.migrations, ['20240101000000_authors.js', '20240102000000_posts.js']);
      assert.deepEqual(manifest.tables.map((table) => `${table.name}:${table.type}`).sort(), [
        'authors:table',
        'knex_migrations:table',
        'post_titles:view',
        'posts:table',
      ]);
      if (engine === 'sqlite')
        assert.equal(manifest.tables.find((table) => table.name === 'posts')!.rows, 300);
      assert.ok(manifest.serverVersion.length > 0, 'manifest.serverVersion.length > 0');
      assert.ok(manifest.durationMs >= 0, 'manifest.durationMs >= 0');
      assert.equal((statSync(entry.path).mode & 0o777).toString(8), '600');
    });

    it('a failing dump leaves no file behind and says which database', async () => {
      const missing = { ...tenant, id: 'ghost', database: `${project.prefix}ghost` };
      await assert.rejects(createBackup(ctx, missing, options), (error: Error & { exitCode?: number }) => {
        assert.equal(error.exitCode, 1);
        assert.match(error.message, new RegExp(`${project.prefix}ghost`));
        return true;
      });
      assert.deepEqual(readdirSync(path.join(ctx.config.backup.directory, 'ghost')), []);
    });

    it('verifies the archive with a test restore and drops the scratch database', async () => {
      const entry = await latestBackup(ctx.config.backup.directory, 'acme');
      const result = await verifyBackup(ctx, entry);
      assert.ok(
        result.tables.every((table) => table.ok),
        'result.tables.every((table) => table.ok)',
      );
      assert.equal(result.tables.find((table) => table.name === 'posts')!.restoredRows, 300);
      assert.deepEqual(await companions(), []);
    });

    it('restores: contents checksum-equal, view and trigger work, old data kept as a safety copy', async () => {
      const entry = await latestBackup(ctx.config.backup.directory, 'acme');
      await withTenantDb(ctx, tenant, async (db) => {
        await db('posts').where('id', '<', 10).delete();
        await db('authors').insert({ name: 'intruder' });
      });
      const changed = await checksums();
      assert.notDeepEqual(changed, original);

      const result = await restoreBackup(ctx, entry, tenant);
      assert.deepEqual(await checksums(), original);
      const objects = await withTenantDb(ctx, tenant, exerciseObjects);
      assert.equal(objects.slug, 'auto-fresh');
      assert.equal(objects.viewRows, 301);
      assert.deepEqual(await companions(), [result.safetyCopy]);
      const safety = { ...tenant, database: result.safetyCopy };
      assert.deepEqual(await checksums(safety), changed);
      if (engine === 'mysql') {
        const [[rows]] = (await withTenantDb(ctx, tenant, (db) => db.raw('CALL count_posts()'))) as [
          [Array<{ posts: number }>],
        ];
        assert.equal(Number(rows[0]!.posts), 300);
      }
    });

    it('clones into another tenant with restore --into', async () => {
      const beta = await createTenant(ctx, { id: 'beta' });
      const entry = await latestBackup(ctx.config.backup.directory, 'acme');
      await restoreBackup(ctx, entry, beta);
      assert.deepEqual(await checksums(beta), original);
      assert.deepEqual(await checksums(), original);
    });

    for (const damage of ['truncated', 'flipped byte', 'flipped byte with a matching manifest'] as const) {
      it(`a ${damage} archive fails the restore and leaves the tenant unchanged`, async () => {
        const good = await latestBackup(ctx.config.backup.directory, 'acme');
        const copy = path.join(
          path.dirname(good.path),
          `damaged-${damage.replace(/\W/g, '')}${path.extname(good.path)}`,
        );
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
          const { createHash } = await import('node:crypto');
          manifest.sha256 = createHash('sha256').update(readFileSync(copy)).digest('hex');
        }
        const entry: BackupEntry = { path: copy, manifestPath: `${copy}.json`, manifest };
        const before = await checksums();
        const companionsBefore = await companions();
        await assert.rejects(restoreBackup(ctx, entry, tenant), (error: Error & { exitCode?: number }) => {
          assert.equal(error.exitCode, 1);
          if (damage !== 'flipped byte with a matching manifest') assert.match(error.message, /corrupt/);
          return true;
        });
        assert.deepEqual(await checksums(), before);
        assert.deepEqual(await companions(), companionsBefore);
      });
    }

    it('a failure after the last swap step rolls everything back', async () => {
      const entry = await latestBackup(ctx.config.backup.directory, 'acme');
      await withTenantDb(ctx, tenant, (db) => db('authors').insert({ name: 'after restore' }));
      const before = await checksums();
      const companionsBefore = await companions();
      const steps: string[] = [];
      await assert.rejects(
        restoreBackup(ctx, entry, tenant, {
          afterStep(name) {
            steps.push(name);
            if (steps.length === (engine === 'mysql' ? 6 : 2)) throw new Error('injected failure');
          },
        }),
        (error: Error) => {
          assert.equal(error.message, 'injected failure');
          return true;
        },
      );
      assert.deepEqual(await checksums(), before);
      assert.deepEqual(await companions(), companionsBefore);
      const objects = await withTenantDb(ctx, tenant, exerciseObjects);
      assert.equal(objects.slug, 'auto-fresh');
      await withTenantDb(ctx, tenant, (db) => db('authors').where('name', 'after restore').delete());
    });

    it('prune keeps exactly the newest N and drops what is older than the maximum age', async () => {
      const directory = path.join(ctx.config.backup.directory, 'acme');
      const template = await latestBackup(ctx.config.backup.directory, 'acme');
      const days = [1, 3, 10, 40, 50];
      for (const day of days) {
        const createdAt = new Date(Date.UTC(2026, 0, 60 - day));
        const stamp = createdAt.toISOString().replace(/[-:]/g, '');
        const file = `${stamp}${path.basename(template.path).replace(/^[^.]+\.\d{3}Z/, '')}`;
        writeFileSync(path.join(directory, file), 'x');
        writeFileSync(
          path.join(directory, `${stamp}.json`),
          JSON.stringify({ ...template.manifest, file, createdAt: createdAt.toISOString() }),
        );
      }
      const now = new Date(Date.UTC(2026, 0, 60));
      // Real backups made today are "in the future" relative to `now`, so they are the newest.
      const all = await listBackups(ctx.config.backup.directory, 'acme');
      const dry = await pruneBackups(ctx, 'acme', {
        keep: all.length - 1,
        maxAgeMs: 30 * 86_400_000,
        dryRun: true,
        now,
      });
      const expected = all.slice(all.length - 2).map((entry) => entry.path);
      assert.deepEqual(
        dry.removed
          .filter((item) => item.kind === 'archive')
          .map((item) => item.name)
          .sort(),
        expected.sort(),
      );
      assert.equal((await listBackups(ctx.config.backup.directory, 'acme')).length, all.length);

      const safetyBefore = (await companions()).length;
      const real = await pruneBackups(ctx, 'acme', {
        keep: 2,
        maxAgeMs: 30 * 86_400_000,
        dryRun: false,
        now,
      });
      const left = await listBackups(ctx.config.backup.directory, 'acme');
      assert.deepEqual(
        left.map((entry) => entry.path),
        all.slice(0, 2).map((entry) => entry.path),
      );
      assert.equal(
        real.removed.filter((item) => item.kind === 'safety-copy').length,
        Math.max(0, safetyBefore - 2),
      );
      for (const item of real.removed.filter((entry) => entry.kind === 'archive'))
        assert.ok(!existsSync(item.name), '!existsSync(item.name)');
      assert.ok(!existsSync(`${all.at(-1)!.manifestPath}`), '!existsSync(`${all.at(-1)!.manifestPath}`)');
      await assert.doesNotReject(readBackup(left[0]!.path));
    });
  });
}

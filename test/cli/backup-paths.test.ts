import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';

/**
 * A manifest's `file` names the archive next to it. Tampered to point elsewhere
 * ("../../../victim/x.sql.gz"), it once made `backup prune` delete a file outside the backup
 * directory. list, verify, restore and prune refuse any archive outside the tenant's folder.
 */
describe('backup manifests cannot point outside the tenant backup folder (CLI, SQLite)', function () {
  this.timeout(120_000);
  let project: TestProject;
  let victim: string;
  let tenantFolder: string;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const HOSTILE_FILES = [
    '../../../victim/x.sql.gz',
    '../../victim/x.sql.gz',
    '/abs/victim/x.sql.gz',
    '../other/20250101T000000.000Z.sqlite.gz',
    'sub/20250101T000000.000Z.sqlite.gz',
    '.',
    '..',
    '',
  ];

  before(async () => {
    project = createProject({ driver: 'sqlite' });
    for (const args of [
      ['tenant', 'create', 'acme'],
      ['backup', 'create', '-t', 'acme'],
      ['backup', 'create', '-t', 'acme'],
    ]) {
      const result = await cli(args);
      assert.equal(result.exitCode, 0, result.stderr);
    }
    tenantFolder = path.join(project.dir, 'backups', 'acme');
    mkdirSync(path.join(project.dir, 'victim'));
    victim = path.join(project.dir, 'victim', 'x.sql.gz');
    writeFileSync(victim, 'precious');
  });
  after(() => project.cleanup());

  /** Writes a copy of acme's newest manifest whose `file` is `file`, as the oldest backup. */
  function plantManifest(file: string, stamp: string): string {
    const [real] = readdirSync(tenantFolder).filter((name) => name.endsWith('.json'));
    const manifest = JSON.parse(readFileSync(path.join(tenantFolder, real!), 'utf8')) as Record<
      string,
      unknown
    >;
    const planted = path.join(tenantFolder, `${stamp}.json`);
    writeFileSync(
      planted,
      JSON.stringify({ ...manifest, file, createdAt: '2020-01-01T00:00:00.000Z' }, null, 2),
    );
    return planted;
  }

  it('refuses each hostile archive path in verify and restore with exit 2 and one line; list and prune ignore it', async () => {
    const planted = HOSTILE_FILES.map((file, index) => plantManifest(file, `20200101T00000${index}.000Z`));
    for (const [index, file] of HOSTILE_FILES.entries()) {
      const verify = await cli(['backup', 'verify', planted[index]!]);
      assert.equal(verify.exitCode, 2, `${file}: ${verify.stderr}`);
      assert.match(verify.stderr, /^Error: .*is not an archive in the same folder/, file);
      assert.equal(verify.stderr.trim().split('\n').length, 1);

      const restore = await cli(['backup', 'restore', '-t', 'acme', '--file', planted[index]!, '--force']);
      assert.equal(restore.exitCode, 2, `${file}: ${restore.stderr}`);
      assert.match(restore.stderr, /^Error: .*is not an archive in the same folder/, file);
    }

    // With every tampered manifest in the folder at once: listed only with archives of that folder,
    // and pruned (they are the oldest, past --max-age) without touching what they point at.
    const list = await runJson<{ backups: Array<{ file: string }> }>(['backup', 'list'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(list.exitCode, 0, list.stderr);
    assert.ok(list.json.backups.length >= 1);
    assert.ok(list.json.backups.every((backup) => path.dirname(backup.file) === tenantFolder));

    const prune = await cli(['backup', 'prune', '--all', '--keep', '1', '--max-age', '1h', '--force']);
    assert.equal(prune.exitCode, 0, prune.stderr);
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
    for (const manifest of planted)
      assert.ok(
        existsSync(manifest),
        `the tampered manifest ${manifest} is left for the operator to look at`,
      );
  });
});

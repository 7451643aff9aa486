import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BIN, runCli } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { requireMariaDb } from '../support/services.js';

/**
 * ENOSPC while writing a backup: a raw "no space left on device" and a hidden .partial manifest
 * left in the tenant's folder. The backup directory is a 16-page tmpfs, mounted in a mount
 * namespace of its own (unshare), filled so that `freePages` pages remain.
 */
describe('a full disk during backup create is one clear line and leaves nothing (CLI, MariaDB, tmpfs)', function () {
  this.timeout(120_000);
  let project: TestProject;

  before(async () => {
    await requireMariaDb();
    const unshare = await execa('unshare', ['--mount', '--map-root-user', 'true'], { reject: false });
    if (unshare.exitCode !== 0) {
      throw new Error(`this test needs unshare --mount --map-root-user (user namespaces): ${unshare.stderr}`);
    }
    project = createProject({ driver: 'mariadb' });
    await project.createCentral();
    const created = await runCli(['tenant', 'create', 'acme'], { cwd: project.dir, env: project.env });
    assert.equal(created.exitCode, 0, created.stderr);
    mkdirSync(path.join(project.dir, 'backups'));
  });
  after(() => project?.cleanup());

  for (const [freePages, what] of [
    [1, 'the manifest'],
    [0, 'the archive'],
  ] as const) {
    it(`no room for ${what}: exit 1, one line naming backup.directory, and an empty tenant folder`, async () => {
      const backups = path.join(project.dir, 'backups');
      const script = [
        `mount -t tmpfs -o size=${16 * 4096} tmpfs ${backups}`,
        `head -c ${(16 - freePages) * 4096} /dev/zero > ${backups}/filler 2>/dev/null`,
        `node ${BIN} backup create -t acme --json > ${backups}/../out.json`,
        'echo "exit=$?"',
        `echo "json=$(tr -d '\\n' < ${backups}/../out.json)"`,
        `echo "left=$(ls -A ${backups}/acme 2>/dev/null | tr '\\n' ' ')"`,
      ].join('; ');
      const result = await execa('unshare', ['--mount', '--map-root-user', 'sh', '-c', script], {
        cwd: project.dir,
        env: project.env,
        extendEnv: false,
        reject: false,
      });
      const exit = /exit=(\d+)/.exec(result.stdout)?.[1];
      const left = /left=(.*)$/m.exec(result.stdout)?.[1]?.trim();
      const json = JSON.parse(/json=(.*)$/m.exec(result.stdout)?.[1] ?? '{}') as {
        results?: Array<{ tenant: string; error?: string }>;
      };
      assert.equal(exit, '1', result.stdout);
      const error = json.results?.[0]?.error ?? '';
      assert.match(error, /no space left on the device .*backup\.directory/, result.stdout);
      assert.doesNotMatch(error, /ENOSPC|\n/);
      assert.equal(left, '', `left in the tenant folder: ${left}`);
    });
  }
});

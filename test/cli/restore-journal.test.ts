import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { runCli, runUntilPaused } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { killedRestoreSuite } from './restore-journal-fixture.js';

killedRestoreSuite('diagnose --fix');

describe('a killed restore on SQLite ends as before or as the archive (CLI)', function () {
  this.timeout(120_000);
  let project: TestProject;
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });
  const RESTORE = ['backup', 'restore', '-t', 'lite', '--latest', '--force'];
  const files = () => readdirSync(path.join(project.dir, '.afty/tenants')).sort();

  before(async () => {
    project = createProject({ driver: 'sqlite' });
    assert.equal((await cli(['tenant', 'create', 'lite'])).exitCode, 0);
    assert.equal((await cli(['backup', 'create', '-t', 'lite'])).exitCode, 0);
  });
  after(() => project.cleanup());

  for (const { step, moved } of [
    { step: 'restore loaded', moved: false },
    { step: 'safety copy', moved: false },
    { step: 'swap file', moved: true },
  ]) {
    it(`killed after "${step}", diagnose --fix leaves one database file and ${moved ? 'a safety copy' : 'no copy'}`, async () => {
      const before = files();
      const paused = await runUntilPaused(RESTORE, step, { cwd: project.dir, env: project.env });
      paused.child.kill('SIGKILL');
      await paused.ended;
      await cli(['diagnose', '--fix']);
      const after = files().filter((name) => !before.includes(name));
      assert.ok(!after.some((name) => name.includes('$r')), after.join(', '));
      assert.equal(after.filter((name) => name.includes('$s')).length, moved ? 1 : 0, after.join(', '));
      assert.ok(!existsSync(path.join(project.dir, 'backups', 'lite', '.restore-journal.json')));
    });
  }
});

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../support/cli.js';

/**
 * What a newcomer does, in CI style: clone the repository (this checkout's HEAD) into an empty
 * folder with nothing beside it (no shared/ or any other sibling), `npm ci`, `npm run quickstart`.
 * The environment is the machine's basics only: no npm_* variables of the run that started the
 * tests, no AFTY_* settings. Slow (npm ci builds better-sqlite3 and afty itself).
 */
describe('a fresh clone: npm ci and the quickstart', function () {
  this.timeout(30 * 60_000);
  let dir: string;
  let project: string | undefined;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'afty-clone-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('installs, builds and runs the quickstart with no update notice and paste-able commands', async () => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: os.tmpdir(),
      LANG: process.env.LANG ?? 'C.UTF-8',
      NO_COLOR: '1',
    };
    const run = (file: string, args: string[], cwd: string) =>
      execa(file, args, { cwd, env, extendEnv: false, reject: false, stdin: 'ignore', all: true });

    const head = (await execa('git', ['rev-parse', 'HEAD'], { cwd: ROOT })).stdout.trim();
    const clone = path.join(dir, 'afty');
    const cloned = await run('git', ['clone', '--quiet', '--no-checkout', ROOT, clone], dir);
    assert.equal(cloned.exitCode, 0, cloned.all);
    const checkout = await run('git', ['checkout', '--quiet', '--detach', head], clone);
    assert.equal(checkout.exitCode, 0, checkout.all);
    assert.deepEqual(readdirSync(dir), ['afty']);
    assert.ok(!existsSync(path.join(clone, 'node_modules')) && !existsSync(path.join(clone, 'dist')));

    const install = await run('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], clone);
    assert.equal(install.exitCode, 0, install.all);
    assert.doesNotMatch(install.all ?? '', /update available/i);
    assert.ok(existsSync(path.join(clone, 'dist/bundle/main.cjs')), 'npm ci built dist (prepare)');

    const quickstart = await run('npm', ['run', '--silent', 'quickstart'], clone);
    const output = quickstart.all ?? '';
    assert.equal(quickstart.exitCode, 0, output);
    project = /^Project: (.+)$/m.exec(output)?.[1];
    assert.match(output, /^Done\. The project is in /m);
    assert.ok(!output.includes('\u001b['), 'no escape codes when not in a terminal');
    assert.doesNotMatch(output, /update available/i);
    // Every step has a title, and its command keeps its quotes.
    const titles: string[] = output.match(/^# .+$/gm) ?? [];
    const commands: string[] = output.match(/^\$ afty .+$/gm) ?? [];
    assert.equal(titles.length, commands.length);
    assert.ok(commands.length >= 10, output);
    assert.ok(
      commands.includes(
        `$ afty tenant create acme --name 'Acme Inc' --domain acme.localhost --migrate --seed`,
      ),
    );
    assert.ok(
      commands.some((line) => line.startsWith(`$ afty tenant run --all -- node -e 'console.log("tenant"`)),
      commands.join('\n'),
    );
  });
});

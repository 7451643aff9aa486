import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../support/cli.js';

/**
 * An npm cache folder for the clone: the machine's own package cache, plus better-sqlite3's
 * prebuilt binary under the name prebuild-install gives the download of the installed version.
 */
function seedPrebuildCache(cache: string): string {
  const sharedPackages = path.join(
    process.env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
    '_cacache',
  );
  mkdirSync(sharedPackages, { recursive: true });
  mkdirSync(path.join(cache, '_prebuilds'), { recursive: true });
  symlinkSync(sharedPackages, path.join(cache, '_cacache'));
  const pkg = path.join(ROOT, 'node_modules/better-sqlite3');
  const { version } = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { version: string };
  const url = `https://github.com/WiseLibs/better-sqlite3/releases/download/v${version}/better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const digest = createHash('sha512').update(url).digest('hex').slice(0, 6);
  const tarball = path.join(cache, '_prebuilds', `${digest}-${path.basename(url)}`);
  execFileSync('tar', ['-czf', tarball, '-C', pkg, 'build/Release/better_sqlite3.node']);
  return cache;
}

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

    // better-sqlite3's install downloads its prebuilt binary from GitHub, which these machines
    // cannot reach, and then compiles SQLite (minutes on two cores). A newcomer online gets the
    // download; here the same tarball, made from this checkout's binary, waits in the npm cache
    // the clone uses (its packages are the shared cache's), where prebuild-install looks first.
    env.npm_config_cache = seedPrebuildCache(path.join(dir, 'npm-cache'));
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

import assert from 'node:assert/strict';
import { execa } from 'execa';
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';

/** The commands each cache file says it covers (bin/bundle.js: 4-byte length, JSON list, V8 data). */
function covers(file: string): string[] {
  const buffer = readFileSync(file);
  return JSON.parse(buffer.subarray(4, 4 + buffer.readUInt32LE(0)).toString('utf8')) as string[];
}

/** A cache file's bytes in that layout. */
function cacheBytes(commands: string[], data: Buffer): Buffer {
  const list = Buffer.from(JSON.stringify(commands));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(list.length);
  return Buffer.concat([length, list, data]);
}

describe('dist/bundle and its code caches (bin/bundle.js)', function () {
  this.timeout(120_000);
  let install: string; // a copy of the built CLI, so its caches can be removed and damaged
  let bundle: string;
  let project: TestProject;
  const afty = (args: string[]) =>
    execa('node', [path.join(install, 'bin/run.js'), ...args, '--json'], {
      cwd: project.dir,
      env: project.env,
      extendEnv: false,
      reject: false,
    });
  const caches = () => readdirSync(bundle).filter((file) => file.endsWith('.cache'));

  before(async () => {
    install = mkdtempSync(path.join(os.tmpdir(), 'afty-bundle-'));
    for (const entry of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
      cpSync(path.join(ROOT, entry), path.join(install, entry), { recursive: true });
    }
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(install, 'node_modules'));
    bundle = path.join(install, 'dist/bundle');
    for (const file of caches()) rmSync(path.join(bundle, file));
    project = createProject({ driver: 'sqlite' });
    const created = await runJson(['tenant', 'create', 'acme'], { cwd: project.dir, env: project.env });
    assert.equal(created.exitCode, 0, created.stderr);
  });
  after(async () => {
    rmSync(install, { recursive: true, force: true });
    await project.cleanup();
  });

  it('runs without caches, then writes one per file it loaded, covering the command', async () => {
    assert.deepEqual(caches(), []);
    const first = await afty(['tenant', 'list']);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.ok(caches().includes('main.cjs.cache'), caches().join(' '));
    for (const file of caches()) assert.deepEqual(covers(path.join(bundle, file)), ['tenant/list'], file);
    // A SQLite command never reads the MySQL driver or the Redis client.
    assert.ok(!caches().some((file) => /mysql2|ioredis/.test(file)), caches().join(' '));

    const stamps = caches().map((file) => statSync(path.join(bundle, file)).mtimeMs);
    const second = await afty(['tenant', 'list']);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(
      caches().map((file) => statSync(path.join(bundle, file)).mtimeMs),
      stamps,
      'a covered command leaves the caches alone',
    );
  });

  it('adds a command to the caches of the files it loads, the first time it runs', async () => {
    const shown = await afty(['tenant', 'show', 'acme']);
    assert.equal(shown.exitCode, 0, shown.stderr);
    assert.deepEqual(covers(path.join(bundle, 'main.cjs.cache')), ['tenant/list', 'tenant/show']);
  });

  it('compiles from source when a cache is damaged or from another build, and writes it again', async () => {
    const main = path.join(bundle, 'main.cjs.cache');
    const damaged = cacheBytes(['tenant/list', 'tenant/show'], Buffer.from('not V8 code cache data'));
    writeFileSync(main, damaged);
    const run = await afty(['tenant', 'list']);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).total, 1);
    assert.notDeepEqual(readFileSync(main), damaged, 'rewritten');
    assert.deepEqual(covers(main), ['tenant/list'], 'covering only what ran since');

    writeFileSync(main, 'garbage');
    const again = await afty(['tenant', 'list']);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(covers(main), ['tenant/list']);
    assert.ok(!readdirSync(bundle).some((file) => /\.cache\.\d+$/.test(file)), 'no temporary files left');
  });

  it('keeps the caches usable after a backup (which turns a V8 flag on for its garbage collector)', async () => {
    const main = path.join(bundle, 'main.cjs.cache');
    const backup = await afty(['backup', 'create', '-t', 'acme']);
    assert.equal(backup.exitCode, 0, backup.stderr);
    assert.ok(covers(main).includes('backup/create'), covers(main).join(' '));
    const written = statSync(main).mtimeMs;
    // Caches written under another flag set are rejected by V8: this run would compile from
    // source and write them again, covering only tenant/list.
    const list = await afty(['tenant', 'list']);
    assert.equal(list.exitCode, 0, list.stderr);
    assert.equal(statSync(main).mtimeMs, written, 'tenant list accepted the caches the backup wrote');
    assert.deepEqual(covers(main), ['backup/create', 'tenant/list']);
  });

  it('leaves a cache that another run replaced while it ran, and builds on it next time', async () => {
    const main = path.join(bundle, 'main.cjs.cache');
    const child = execa(
      'node',
      [path.join(install, 'bin/run.js'), 'backup', 'restore', '-t', 'acme', '--latest', '--force', '--json'],
      {
        cwd: project.dir,
        env: { ...project.env, AFTY_TEST_PAUSE_AT: 'restore loaded' },
        extendEnv: false,
        reject: false,
      },
    );
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('afty: paused at restore loaded')) resolve();
      });
      void child.then(() => reject(new Error(`restore ended before its marker:\n${stderr}`)));
    });
    // Meanwhile a concurrent run of another command wrote its cache (same V8 data, its own list).
    const current = readFileSync(main);
    const newer = cacheBytes(
      [...covers(main), 'tenant/update'].sort(),
      current.subarray(4 + current.readUInt32LE(0)),
    );
    writeFileSync(`${main}.other`, newer);
    renameSync(`${main}.other`, main);
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGINT');
    await child;
    assert.deepEqual(readFileSync(main), newer, 'the interrupted restore left the newer cache alone');

    const restore = await afty(['backup', 'restore', '-t', 'acme', '--latest', '--force']);
    assert.equal(restore.exitCode, 0, restore.stderr);
    assert.deepEqual(covers(main), ['backup/create', 'backup/restore', 'tenant/list', 'tenant/update']);
  });

  it('bundles every command file and no dev-only package', () => {
    const stubs = readdirSync(path.join(install, 'dist/commands'), { recursive: true }).filter((file) =>
      String(file).endsWith('.js'),
    );
    const sources = readdirSync(path.join(ROOT, 'src/commands'), { recursive: true }).filter(
      (file) => String(file).endsWith('.ts') && !String(file).endsWith('.d.ts'),
    );
    assert.equal(stubs.length, sources.length);
    for (const stub of stubs) {
      assert.match(
        readFileSync(path.join(install, 'dist/commands', String(stub)), 'utf8'),
        /export default command\(/,
      );
    }
    assert.ok(!readdirSync(bundle).some((file) => /^(typescript|tsx|esbuild|mocha)\b/.test(file)));
  });
});

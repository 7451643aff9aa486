import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../support/cli.js';

type FastPath = {
  fastOutput(argv: string[]): string | undefined;
  MIRRORED: Record<string, string>;
};

describe('bin/fast-path.js: guarded by the oclif releases it mirrors', () => {
  let copy: string;
  let fastPath: FastPath;
  const packageFile = (name: string) => path.join(copy, 'node_modules', name, 'package.json');
  const setVersion = (name: string, version: string) => {
    const pjson = JSON.parse(readFileSync(packageFile(name), 'utf8')) as { version: string };
    writeFileSync(packageFile(name), JSON.stringify({ ...pjson, version }));
  };

  before(async () => {
    // The project as fast-path.js reads it: package.json, the manifest, and each package's own
    // package.json (and the plugins' manifests), copied so their versions can be changed.
    copy = mkdtempSync(path.join(os.tmpdir(), 'afty-fast-path-'));
    mkdirSync(path.join(copy, 'bin'));
    cpSync(path.join(ROOT, 'bin/fast-path.js'), path.join(copy, 'bin/fast-path.js'));
    for (const file of ['package.json', 'oclif.manifest.json'])
      cpSync(path.join(ROOT, file), path.join(copy, file));
    for (const name of [
      '@oclif/core',
      '@oclif/plugin-help',
      '@oclif/plugin-autocomplete',
      '@oclif/plugin-not-found',
    ]) {
      mkdirSync(path.join(copy, 'node_modules', name), { recursive: true });
      for (const file of ['package.json', 'oclif.manifest.json']) {
        try {
          cpSync(path.join(ROOT, 'node_modules', name, file), path.join(copy, 'node_modules', name, file));
        } catch {
          assert.equal(file, 'oclif.manifest.json', `${name}/${file}`); // @oclif/core has no manifest
        }
      }
    }
    fastPath = (await import(pathToFileURL(path.join(copy, 'bin/fast-path.js')).href)) as FastPath;
  });
  after(() => rmSync(copy, { recursive: true, force: true }));
  afterEach(() => {
    for (const [name, version] of Object.entries(fastPath.MIRRORED)) setVersion(name, version);
  });

  it('mirrors the releases installed here (or it would never answer)', () => {
    for (const [name, version] of Object.entries(fastPath.MIRRORED)) {
      const installed = JSON.parse(
        readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
      ) as {
        version: string;
      };
      assert.equal(
        installed.version,
        version,
        `${name}: update MIRRORED after checking the fast path against it`,
      );
    }
    assert.match(fastPath.fastOutput(['--version']) ?? '', /^afty\/\d+\.\d+\.\d+ /);
  });

  for (const name of ['@oclif/core', '@oclif/plugin-help']) {
    it(`leaves everything to oclif when another ${name} is installed`, () => {
      setVersion(name, '999.0.0');
      assert.equal(fastPath.fastOutput(['--version']), undefined);
      assert.equal(fastPath.fastOutput(['tenant', '--help']), undefined);
      setVersion(name, fastPath.MIRRORED[name]!);
      assert.notEqual(
        fastPath.fastOutput(['--version']),
        undefined,
        'answers again with the mirrored release',
      );
    });
  }
});

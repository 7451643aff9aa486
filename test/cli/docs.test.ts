import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');

describe('docs', () => {
  it('docs/commands.md is what `npm run docs:commands` generates from the built commands', async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'afty-docs-'));
    try {
      const fresh = path.join(dir, 'commands.md');
      copyFileSync(path.join(root, 'docs/commands.md'), fresh);
      await promisify(execFile)(
        path.join(root, 'node_modules/.bin/oclif'),
        ['readme', '--readme-path', fresh, '--no-source-links'],
        { cwd: root },
      );
      assert.ok(
        readFileSync(fresh, 'utf8') === readFileSync(path.join(root, 'docs/commands.md'), 'utf8'),
        'docs/commands.md is stale: run npm run docs:commands and commit it',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the README stays a README: at most 400 lines, and every docs/ link it makes exists', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    assert.ok(readme.split('\n').length <= 400, `README.md has ${readme.split('\n').length} lines`);
    const links = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((match) => match[1]!);
    assert.ok(links.length > 5, 'the README points to the docs');
    for (const link of links) assert.doesNotThrow(() => readFileSync(path.join(root, link)), link);
  });
});

import assert from 'node:assert/strict';
import os from 'node:os';
import { runCli } from '../support/cli.js';

describe('bin/run.js start-up', () => {
  it('answers --version on its fast path exactly as oclif does', async () => {
    const fast = await runCli(['--version'], { cwd: os.tmpdir(), env: { PATH: process.env.PATH } });
    const oclif = await runCli(['--version'], {
      cwd: os.tmpdir(),
      env: { PATH: process.env.PATH, AFTY_NO_FAST_PATH: '1' },
    });
    assert.equal(fast.exitCode, 0);
    assert.match(fast.stdout, /^afty\/\d+\.\d+\.\d+ \S+ node-v\d+/);
    assert.deepEqual(fast, oclif);
  });

  it('shows topic help with every tenant command', async () => {
    const help = await runCli(['tenant', '--help'], { cwd: os.tmpdir(), env: { PATH: process.env.PATH } });
    assert.equal(help.exitCode, 0);
    for (const verb of [
      'activate',
      'block',
      'create',
      'deactivate',
      'delete',
      'list',
      'run',
      'show',
      'suspend',
      'update',
    ]) {
      assert.match(help.stdout, new RegExp(`^  tenant ${verb} `, 'm'));
    }
    assert.match(help.stdout, /^ {2}tenant domain {2}Manage a tenant's domains$/m);
  });
});

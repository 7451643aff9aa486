import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeStandardFixture } from '../integration/migrations-fixture.js';
import { BIN, runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { runInTerminal as runInPty } from '../support/terminal.js';

/*
 * The tests that measure time: they run after the parallel group, alone (.mocharc.serial.json),
 * so that other tests' load does not decide them. Everything else about start-up and terminals
 * is in startup.test.ts and tty.test.ts, in the parallel group.
 */

describe('start-up of a command that opens the registry (SQLite)', function () {
  this.timeout(180_000);
  let project: TestProject;
  before(async () => {
    project = createProject({ driver: 'sqlite' });
    const created = await runCli(['tenant', 'create', 'acme'], { cwd: project.dir, env: project.env });
    assert.equal(created.exitCode, 0, created.stderr);
  });
  after(() => project.cleanup());

  it('tenant list --json stays within a few times a bare `node -e 0` (bench/startup.ts: target 2.5×)', () => {
    // Interleaved, median of 7: a loaded machine slows both alike. Unbundled it was 5-6×; the bound
    // leaves room for a busy machine and still catches that.
    const time = (args: string[]) => {
      const started = process.hrtime.bigint();
      const result = spawnSync(process.execPath, args, {
        cwd: project.dir,
        env: project.env,
        stdio: 'ignore',
      });
      assert.equal(result.status, 0, args.join(' '));
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const list = [BIN, 'tenant', 'list', '--json'];
    time(list); // the first run writes the code caches
    const node: number[] = [];
    const afty: number[] = [];
    for (let run = 0; run < 7; run += 1) {
      node.push(time(['-e', '0']));
      afty.push(time(list));
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
    const ratio = median(afty) / median(node);
    assert.ok(ratio <= 3.5, `tenant list --json: ${median(afty)} ms, ${ratio.toFixed(2)}× node -e 0`);
  });
});

describe('first output in a terminal (pseudo-TTY)', function () {
  this.timeout(60_000);
  let project: TestProject;
  before(async () => {
    project = createProject({ driver: 'sqlite' });
    writeStandardFixture(project.dir);
    for (const id of ['alpha', 'bravo']) {
      const created = await runJson(['tenant', 'create', id], { cwd: project.dir, env: project.env });
      assert.equal(created.exitCode, 0, created.stderr);
    }
  });
  after(() => project.cleanup());

  it('commands that touch a database show a spinner or a first line within 200 ms of starting', async function () {
    this.timeout(240_000);
    const firstOutputMs = async (args: string[], cwd = project.dir) => {
      const started = performance.now();
      let first = Number.POSITIVE_INFINITY;
      const run = await runInPty(args, {
        cwd,
        env: project.env,
        onOutput: (raw) => {
          if (first === Number.POSITIVE_INFINITY && raw.trim()) first = performance.now() - started;
        },
      });
      return { first, exitCode: run.exitCode, took: run.durationMs, raw: run.raw };
    };
    // What loading oclif and a command costs here, with no work: its help (not the fast path).
    const loads: number[] = [];
    for (let index = 0; index < 3; index += 1)
      loads.push((await firstOutputMs(['tenant', 'create', '--help'])).first);
    const baseline = Math.min(...loads);
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'afty-init-tty-'));
    try {
      for (const [args, cwd] of [
        [['test', 'all'], project.dir],
        [['diagnose'], project.dir],
        [['db', 'snapshot', '--output', path.join(project.dir, 'snap.sql')], project.dir],
        [['init', '--yes'], elsewhere],
        [['tenant', 'create', 'charlie', '--migrate'], project.dir],
      ] as const) {
        const result = await firstOutputMs([...args], cwd);
        assert.ok(
          result.first <= baseline + 200,
          `afty ${args.join(' ')}: first output after ${Math.round(result.first)} ms (loading takes ${Math.round(baseline)} ms; the run ${Math.round(result.took)} ms)`,
        );
      }
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

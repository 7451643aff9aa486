import assert from 'node:assert/strict';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import stringWidth from 'string-width';
import { runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { runInTerminal } from '../support/terminal.js';
import { writeStandardFixture } from '../integration/migrations-fixture.js';

const LONG_NAME = 'Acme Corporation International Holdings, Research and Development Division';

describe('tables (tenant list, backup list, db status)', function () {
  this.timeout(120_000);
  let project: TestProject;
  let archive: string; // as backup list prints it, relative to the project
  let database: string;
  before(async () => {
    // A short backup folder, so the archive path fits 40 columns whole.
    project = createProject({ driver: 'sqlite', config: { backup: { directory: 'bk' } } });
    writeStandardFixture(project.dir);
    const options = { cwd: project.dir, env: project.env };
    const created = await runJson<{ database: string }>(
      ['tenant', 'create', 'acme', '--name', LONG_NAME, '--migrate'],
      options,
    );
    assert.equal(created.exitCode, 0, created.stderr);
    database = created.json.database;
    assert.equal((await runCli(['tenant', 'create', 'globex'], options)).exitCode, 0);
    assert.equal((await runCli(['backup', 'create', '-t', 'acme'], options)).exitCode, 0);
    const listed = await runJson<{ backups: Array<{ file: string }> }>(['backup', 'list'], options);
    archive = path.relative(project.dir, listed.json.backups[0]!.file);
    assert.ok(stringWidth(archive) <= 40, archive);
  });
  after(() => project.cleanup());

  for (const columns of [40, 60, 120, 200]) {
    it(`fits a ${columns}-column terminal and keeps ids and paths whole`, async () => {
      for (const [args, whole] of [
        [
          ['tenant', 'list'],
          ['acme', 'globex', database],
        ],
        [
          ['backup', 'list'],
          ['acme', archive],
        ],
        [
          ['db', 'status', '-t', 'acme'],
          ['001_users.js', '002_teams.cjs', '003_posts.mjs'],
        ],
      ] as const) {
        // What the operator sees, read back through a terminal emulator: a spinner shown while
        // the command starts is overwritten, and a line wider than the terminal would wrap,
        // which `text` joins back into one line that fails the width check.
        const { exitCode, text: output } = await runInTerminal([...args], {
          cwd: project.dir,
          env: project.env,
          columns,
          rows: 50,
        });
        assert.equal(exitCode, 0, output);
        const lines = output.split('\n');
        for (const line of lines) {
          assert.ok(
            stringWidth(line) <= columns,
            `afty ${args.join(' ')} at ${columns}: ${JSON.stringify(line)}`,
          );
        }
        for (const value of whole) {
          assert.ok(
            lines.some((line) => line.includes(value)),
            `afty ${args.join(' ')} at ${columns}: ${value} whole\n${output}`,
          );
        }
        assert.doesNotMatch(output, /[─│┌└├┼]/, 'no box');
      }
    });
  }

  it('keeps one plain line per row when piped, whatever the width of the terminal', async () => {
    const options = { cwd: project.dir, env: { ...project.env, COLUMNS: '40' } };
    const listed = await runCli(['tenant', 'list'], options);
    assert.equal(listed.exitCode, 0, listed.stderr);
    assert.equal(listed.stdout, stripVTControlCharacters(listed.stdout), 'no ANSI codes');
    const lines = listed.stdout.split('\n');
    assert.match(lines[0]!, /^id +name +status +server +database +primary domain +domains$/);
    assert.ok(
      lines.some((line) => line.startsWith('acme ') && line.includes(LONG_NAME) && line.includes(database)),
    );
    assert.equal(lines.filter((line) => /^(acme|globex) /.test(line)).length, 2, listed.stdout);
    const backups = await runCli(['backup', 'list'], options);
    assert.equal(
      backups.stdout.split('\n').filter((line) => line.startsWith('acme ') && line.endsWith(archive)).length,
      1,
    );
  });

  it('db status says so when a tenant has no migrations, instead of an empty table', async () => {
    const bare = createProject({ driver: 'sqlite' });
    try {
      const options = { cwd: bare.dir, env: bare.env };
      assert.equal((await runCli(['tenant', 'create', 'acme'], options)).exitCode, 0);
      const status = await runCli(['db', 'status', '-t', 'acme'], options);
      assert.equal(status.exitCode, 0, status.stderr);
      assert.equal(status.stdout, 'acme: no migrations (none in migrations/tenant, none recorded)');
      const json = await runJson<{ tenants: Array<{ migrations: unknown[]; applied: number }> }>(
        ['db', 'status', '-t', 'acme'],
        options,
      );
      assert.deepEqual([json.json.tenants[0]!.migrations, json.json.tenants[0]!.applied], [[], 0]);
    } finally {
      await bare.cleanup();
    }
  });
});

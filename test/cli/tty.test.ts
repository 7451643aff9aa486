import assert from 'node:assert/strict';
import { createKnex } from '../../src/lib/servers/knex.js';
import { runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { runInTerminal as runInPty, typeInTerminal as runInTerminal } from '../support/terminal.js';
import { writeStandardFixture } from '../integration/migrations-fixture.js';

describe('afty in a terminal (pseudo-TTY)', function () {
  this.timeout(60_000);
  let project: TestProject;
  before(async () => {
    project = createProject({ driver: 'sqlite' });
    for (const id of ['alpha', 'bravo']) {
      const created = await runJson(['tenant', 'create', id], { cwd: project.dir, env: project.env });
      assert.equal(created.exitCode, 0, created.stderr);
    }
  });
  after(() => project.cleanup());

  it('asks before deleting; "no" (the default) changes nothing and exits 1', async () => {
    const declined = await runInTerminal(project, ['tenant', 'delete', 'alpha', '--no-backup'], '\r');
    assert.match(declined.output, /Delete tenant alpha .*\?\s*\(y\/N\)/s);
    assert.match(declined.output, /cancelled, nothing was changed/);
    assert.equal(declined.exitCode, 1);
    const still = await runJson<{ total: number }>(['tenant', 'list'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(still.json.total, 2);
  });

  it('deletes after "y"', async () => {
    const confirmed = await runInTerminal(project, ['tenant', 'delete', 'alpha', '--no-backup'], 'y\r');
    assert.equal(confirmed.exitCode, 0, confirmed.output);
    assert.match(confirmed.output, /Deleted tenant alpha/);
  });

  it('offers a tenant picker when no selection flag is given', async () => {
    const picked = await runInTerminal(
      project,
      ['tenant', 'run', '--', 'sh', '-c', 'echo "ran for $AFTY_TENANT_ID"'],
      ' \r',
    );
    assert.match(picked.output, /Which tenants\?/);
    assert.match(picked.output, /\[bravo\] ran for bravo/);
    assert.equal(picked.exitCode, 0, picked.output);
  });
});

describe('afty db migrate in a terminal (pseudo-TTY)', function () {
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

  it('--verbose keeps a line per migration above the live view; the summary lists the failure and fits', async () => {
    // bravo already has the table 002_teams.cjs creates: it fails there with a long error.
    const ctx = await project.context();
    try {
      const record = (await (await ctx.registry()).findTenant('bravo'))!;
      const db = await createKnex(ctx.servers.get(record.server).tenantLocation(record.database));
      await db.raw('CREATE TABLE teams (id INTEGER)');
      await db.destroy();
    } finally {
      await ctx.close();
    }
    const run = await runInPty(['db', 'migrate', '--all', '-c', '1', '--verbose'], {
      cwd: project.dir,
      env: project.env,
      columns: 60,
      rows: 20,
    });
    assert.equal(run.exitCode, 1, run.raw);
    const text = [...run.scrollback, ...run.screen].join('\n');
    assert.match(
      text,
      /^ {2}alpha: 001_users.js \(\d+ms\)\n {2}alpha: 002_teams.cjs \(\d+ms\)\n {2}alpha: 003_posts.mjs \(\d+ms\)$/m,
    );
    assert.match(text, /^✓ alpha: 3 applied \(\d+ms\)$/m);
    assert.doesNotMatch(text, /bravo: 002_teams.cjs \(/, 'the failed migration has no success line');
    assert.doesNotMatch(text, /elapsed/, 'the live view is gone once the run ends');
    const lines = text.split('\n');
    const head = lines.findIndex((line) => /^tenant {2}/.test(line));
    const table = lines.slice(
      head,
      lines.findIndex((line) => /^\d+ tenants?:/.test(line)),
    );
    assert.ok(head >= 0 && table.length >= 3, `a summary table: ${text}`);
    assert.ok(
      table.every((line) => [...line].length <= 60),
      `every table line fits 60 columns:\n${table.join('\n')}`,
    );
    assert.match(text, /bravo.*failed.*002_teams.cjs/s);
    assert.match(text, /2 tenants: 1 ok, 1 failed/);
  });
});

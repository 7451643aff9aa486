import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { writeStandardFixture } from '../integration/migrations-fixture.js';

/** Issue 11.7: a mistyped migrations.directory or seeds.directory is exit 2, never "no migrations". */
describe('a configured migrations or seeds directory that does not exist (SQLite)', function () {
  this.timeout(120_000);
  let project: TestProject;
  const options = () => ({ cwd: project.dir, env: project.env });
  const tenants = async () =>
    (await runJson<{ tenants: Array<{ id: string }> }>(['tenant', 'list'], options())).json.tenants.map(
      (tenant) => tenant.id,
    );
  before(async () => {
    project = createProject({
      driver: 'sqlite',
      config: { migrations: { directory: 'migratons/tenant' }, seeds: { directory: 'seds/tenant' } },
    });
    writeStandardFixture(project.dir); // the real folders: migrations/tenant, seeds/tenant
    assert.equal((await runCli(['tenant', 'create', 'acme'], options())).exitCode, 0);
  });
  after(() => project.cleanup());

  for (const [args, key, folder] of [
    [['db', 'migrate', '--all'], 'migrations.directory', 'migratons/tenant'],
    [['db', 'status', '-t', 'acme'], 'migrations.directory', 'migratons/tenant'],
    [['db', 'rollback', '-t', 'acme', '--force'], 'migrations.directory', 'migratons/tenant'],
    [['db', 'seed', '-t', 'acme'], 'seeds.directory', 'seds/tenant'],
    [['db', 'seed', '-t', 'acme', '--class', 'DatabaseSeeder'], 'seeds.directory', 'seds/tenant'],
    [['tenant', 'create', 'globex', '--migrate'], 'migrations.directory', 'migratons/tenant'],
  ] as const) {
    it(`afty ${args.join(' ')}: exit 2, one line naming ${key} and the path; nothing changes`, async () => {
      const databases = readdirSync(path.join(project.dir, '.afty/tenants')).sort();
      const result = await runCli([...args], options());
      assert.equal(result.exitCode, 2, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0]!,
        new RegExp(`^Error: ${key.replace('.', '\\.')} is .*${folder}, which does not exist`),
      );
      assert.match(lines[0]!, new RegExp(`correct ${key.replace('.', '\\.')} in the config`));
      assert.deepEqual(readdirSync(path.join(project.dir, '.afty/tenants')).sort(), databases);
      assert.deepEqual(await tenants(), ['acme']);
      assert.ok(!existsSync(path.join(project.dir, 'migratons')), 'afty does not create the typo');
    });
  }

  it('with the key unset, a project without migrations is just that: db status says so, exit 0', async () => {
    const bare = createProject({ driver: 'sqlite' });
    try {
      assert.equal(
        (await runCli(['tenant', 'create', 'acme', '--migrate'], { cwd: bare.dir, env: bare.env })).exitCode,
        0,
      );
      const status = await runCli(['db', 'status', '-t', 'acme'], { cwd: bare.dir, env: bare.env });
      assert.equal(status.exitCode, 0, status.stderr);
      assert.match(status.stdout, /^acme: no migrations/);
    } finally {
      await bare.cleanup();
    }
  });
});

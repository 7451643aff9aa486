import assert from 'node:assert/strict';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';

/**
 * `echo x | afty tenant delete --force` once deleted tenant x: oclif fills a missing positional
 * argument from piped stdin. afty never takes an argument from stdin, for any command.
 */
describe('arguments are never read from piped stdin (CLI, SQLite)', function () {
  this.timeout(120_000);
  let project: TestProject;
  const cli = (args: string[], input?: string) => runCli(args, { cwd: project.dir, env: project.env, input });
  const tenantIds = async () =>
    (
      await runJson<{ tenants: Array<{ id: string }> }>(['tenant', 'list'], {
        cwd: project.dir,
        env: project.env,
      })
    ).json.tenants.map((tenant) => tenant.id);

  before(async () => {
    project = createProject({ driver: 'sqlite' });
    for (const id of ['throwaway', 'acme', 'globex']) {
      const created = await cli(['tenant', 'create', id]);
      assert.equal(created.exitCode, 0, created.stderr);
    }
    const backedUp = await cli(['backup', 'create', '-t', 'acme', '-t', 'globex']);
    assert.equal(backedUp.exitCode, 0, backedUp.stderr);
  });
  after(() => project.cleanup());

  it('tenant delete with a piped tenant id and no argument deletes nothing (exit 2)', async () => {
    const result = await cli(['tenant', 'delete', '--force', '--no-backup'], 'throwaway\n');
    assert.equal(result.exitCode, 2, result.stderr);
    assert.match(result.stderr, /^Error: Missing 1 required arg/);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.deepEqual(await tenantIds(), ['acme', 'globex', 'throwaway']);
  });

  it('tenant create with a piped id and no argument creates nothing (exit 2)', async () => {
    const result = await cli(['tenant', 'create'], 'piped\n');
    assert.equal(result.exitCode, 2, result.stderr);
    assert.deepEqual(await tenantIds(), ['acme', 'globex', 'throwaway']);
  });

  it('backup verify -t globex in a `while read` loop verifies globex, not the piped line', async () => {
    const result = await runJson<{ results: Array<{ tenant: string; status: string }> }>(
      ['backup', 'verify', '-t', 'globex'],
      { cwd: project.dir, env: project.env },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    const piped = await cli(['backup', 'verify', '-t', 'globex', '--json'], 'acme\nglobex\n');
    assert.equal(piped.exitCode, 0, piped.stderr);
    const parsed = JSON.parse(piped.stdout) as { results: Array<{ tenant: string; status: string }> };
    assert.deepEqual(
      parsed.results.map((row) => [row.tenant, row.status]),
      [['globex', 'ok']],
    );
  });

  it('afty test --tenant acme does not read a piped line as a category', async () => {
    const piped = await cli(['test', '--list', '--tenant', 'acme', '--json'], 'globex\n');
    assert.equal(piped.exitCode, 0, piped.stderr);
    const all = await cli(['test', '--list', '--tenant', 'acme', '--json']);
    assert.deepEqual(JSON.parse(piped.stdout), JSON.parse(all.stdout));
  });
});

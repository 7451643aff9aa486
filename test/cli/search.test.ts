import assert from 'node:assert/strict';
import { createProject, type TestProject } from '../support/project.js';
import { runCli, runJson } from '../support/cli.js';
import { requireMariaDb } from '../support/services.js';

/** Names whose search terms are LIKE wildcards or escapes, next to names they must not match. */
const TENANTS: Array<[string, string]> = [
  ['percent', '50% off'],
  ['percentless', '50x off'],
  ['underscore', 'a_b'],
  ['underscoreless', 'aXb'],
  ['backslash', 'back\\slash'],
  ['quote', "O'Brien"],
  ['doublequote', 'say "hi"'],
  ['bang', 'wow!'],
];

const SEARCHES: Array<[string, string[]]> = [
  ['%', ['percent']],
  ['50%', ['percent']],
  ['_', ['underscore']],
  ['a_b', ['underscore']],
  ['\\', ['backslash']],
  ['k\\s', ['backslash']],
  ["'", ['quote']],
  ["o'b", ['quote']],
  ['"hi"', ['doublequote']],
  ['!', ['bang']],
  ['off', ['percent', 'percentless']],
  ['zzz', []],
];

for (const driver of ['sqlite', 'mariadb'] as const) {
  describe(`tenant list --search matches %, _, \\ and quotes literally (CLI, ${driver} registry)`, function () {
    this.timeout(120_000);
    let project: TestProject;

    before(async () => {
      if (driver === 'mariadb') await requireMariaDb();
      project = createProject({
        driver,
        // Registry on the engine under test; tenant databases as SQLite files either way.
        config: driver === 'mariadb' ? { servers: { default: 'sqlite:.afty/tenants' } } : {},
      });
      await project.createCentral();
      for (const [id, name] of TENANTS) {
        const created = await runCli(['tenant', 'create', id, '--name', name], {
          cwd: project.dir,
          env: project.env,
        });
        assert.equal(created.exitCode, 0, created.stderr);
      }
    });
    after(() => project?.cleanup());

    for (const [term, expected] of SEARCHES) {
      it(`--search ${JSON.stringify(term)} finds ${expected.join(', ') || 'nothing'}`, async () => {
        const result = await runJson<{ total: number; tenants: Array<{ id: string }> }>(
          ['tenant', 'list', '--search', term],
          { cwd: project.dir, env: project.env },
        );
        assert.equal(result.exitCode, 0, result.stderr);
        assert.deepEqual(result.json.tenants.map((tenant) => tenant.id).sort(), [...expected].sort());
        assert.equal(result.json.total, expected.length);
      });
    }
  });
}

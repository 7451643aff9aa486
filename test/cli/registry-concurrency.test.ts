import assert from 'node:assert/strict';
import { runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { requireMariaDb, requirePostgres } from '../support/services.js';

/**
 * The first command on an empty registry creates its schema. Four `tenant create` at once used to
 * fail 8 of 12 with "Migration table is already locked": each must wait for the one creating it.
 */
for (const driver of ['sqlite', 'mariadb', 'postgres', 'postgres-schema'] as const) {
  describe(`concurrent first use of an empty registry (CLI, ${driver})`, function () {
    this.timeout(240_000);
    const projects: TestProject[] = [];

    before(async () => {
      if (driver === 'mariadb') await requireMariaDb();
      if (driver.startsWith('postgres')) await requirePostgres();
    });
    after(async () => {
      for (const project of projects) await project.cleanup();
    });

    for (const round of [1, 2, 3]) {
      it(`round ${round}: 5 parallel tenant create on a fresh registry all succeed`, async () => {
        const project = createProject({ driver });
        projects.push(project);
        await project.createCentral();
        const ids = ['one', 'two', 'three', 'four', 'five'];
        const results = await Promise.all(
          ids.map((id) => runCli(['tenant', 'create', id], { cwd: project.dir, env: project.env })),
        );
        for (const [index, result] of results.entries()) {
          assert.equal(result.exitCode, 0, `${ids[index]}: ${result.stderr}`);
        }
        const listed = await runJson<{ tenants: Array<{ id: string }> }>(['tenant', 'list'], {
          cwd: project.dir,
          env: project.env,
        });
        assert.deepEqual(listed.json.tenants.map((tenant) => tenant.id).sort(), [...ids].sort());
      });
    }
  });
}

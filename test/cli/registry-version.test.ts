import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';

describe('a registry upgraded by a newer afty (SQLite)', function () {
  this.timeout(60_000);
  let project: TestProject;
  before(async () => {
    project = createProject({ driver: 'sqlite' });
    assert.equal(
      (await runCli(['tenant', 'create', 'acme'], { cwd: project.dir, env: project.env })).exitCode,
      0,
    );
  });
  after(() => project.cleanup());

  it('is refused with exit 2 and one line naming both schema versions; nothing is changed', async () => {
    const file = path.join(project.dir, '.afty/central.sqlite');
    const db = new Database(file);
    db.prepare(
      "INSERT INTO afty_registry_migrations (name, batch, migration_time) VALUES ('9999_from_the_future', 99, 0)",
    ).run();
    const count = () =>
      (db.prepare('SELECT COUNT(*) AS n FROM afty_registry_migrations').get() as { n: number }).n;
    const before = count();
    try {
      const result = await runCli(['tenant', 'list'], { cwd: project.dir, env: project.env });
      assert.equal(result.exitCode, 2, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0]!,
        /^Error: the registry was upgraded by a newer afty \(schema 9999_from_the_future; this afty knows up to \d{4}_\w+\) — upgrade afty/,
      );
      assert.equal(count(), before);
      db.prepare("DELETE FROM afty_registry_migrations WHERE name = '9999_from_the_future'").run();
      const listed = await runJson<{ tenants: Array<{ id: string }> }>(['tenant', 'list'], {
        cwd: project.dir,
        env: project.env,
      });
      assert.deepEqual(
        listed.json.tenants.map((tenant) => tenant.id),
        ['acme'],
      );
    } finally {
      db.close();
    }
  });
});

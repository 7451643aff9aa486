import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { runCli } from '../support/cli.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-servers.js';
import { createPrivateServerProject, type TestProject } from '../support/project.js';

/**
 * Which exit code a server's answer gets: a refused login is configuration (exit 2, naming the
 * user and where the password came from); a full connection limit and other server trouble is a
 * service problem (exit 3) and never a failed security check.
 */
describe('driver errors are classified: access denied exit 2, server limits exit 3 (CLI, private mariadbd)', function () {
  this.timeout(180_000);
  let server: PrivateMariaDb;
  let project: TestProject;
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(args, { cwd: project.dir, env: { ...project.env, ...env } });
  const oneLine = (stderr: string) => {
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    return lines[0]!;
  };

  before(async () => {
    server = await startPrivateMariaDb({ extraArgs: ['--max-connections=12'] });
    project = await createPrivateServerProject(server);
    for (const id of ['alpha', 'beta']) {
      const created = await cli(['tenant', 'create', id]);
      assert.equal(created.exitCode, 0, created.stderr);
    }
  });
  after(async () => {
    await server?.stop();
    await project?.cleanup();
  });

  it('a wrong server password is exit 2 naming the user, the server and AFTY_SERVER_URL', async () => {
    await server.sql(
      "CREATE USER 'operator'@'%' IDENTIFIED BY 'right-password'; GRANT ALL ON *.* TO 'operator'@'%'",
    );
    const wrong = `mysql://operator:wrong-password@127.0.0.1:${server.port}`;
    const result = await cli(['tenant', 'create', 'gamma'], { AFTY_SERVER_URL: wrong });
    assert.equal(result.exitCode, 2, result.stderr);
    const line = oneLine(result.stderr);
    assert.match(line, /Access denied for user 'operator'@/);
    assert.match(line, /server "default"/);
    assert.match(line, /the password comes from AFTY_SERVER_URL/);
    assert.doesNotMatch(line, /wrong-password|check that the server is running/);
    const listed = await cli(['tenant', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { tenants: Array<{ id: string }> }).tenants.map((tenant) => tenant.id),
      ['alpha', 'beta'],
    );
  });

  it('a wrong central password is exit 2 naming AFTY_CENTRAL_URL, also when it came from .env', async () => {
    const wrong = `mysql://operator:wrong-password@127.0.0.1:${server.port}/afty`;
    const fromEnv = await cli(['tenant', 'list'], { AFTY_CENTRAL_URL: wrong });
    assert.equal(fromEnv.exitCode, 2, fromEnv.stderr);
    assert.match(
      oneLine(fromEnv.stderr),
      /Access denied for user 'operator'@.*the password comes from AFTY_CENTRAL_URL/,
    );
    writeFileSync(path.join(project.dir, '.env'), `AFTY_CENTRAL_URL=${wrong}\n`);
    try {
      const fromFile = await cli(['tenant', 'list']);
      assert.equal(fromFile.exitCode, 2, fromFile.stderr);
      assert.match(
        oneLine(fromFile.stderr),
        new RegExp(
          `the password comes from AFTY_CENTRAL_URL in ${path.join(project.dir, '.env').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`,
        ),
      );
    } finally {
      writeFileSync(path.join(project.dir, '.env'), '');
    }
  });

  it('a tenant user over its connection limit is exit 3 in afty test isolation, never "reaches other tenants"', async () => {
    const ctx = await project.context();
    let held: Knex | undefined;
    let user: string | undefined;
    try {
      const alpha = (await (await ctx.registry()).findTenant('alpha'))!;
      user = alpha.dbUser!;
      await server.sql(`ALTER USER '${user}'@'%' WITH MAX_USER_CONNECTIONS 1`);
      const { tenantLocation } = await import('../../src/lib/tenants/index.js');
      const { createKnex } = await import('../../src/lib/servers/knex.js');
      held = await createKnex(tenantLocation(ctx, alpha));
      await held.raw('SELECT 1');
      const result = await cli(['test', 'isolation', '--tenant', 'alpha']);
      assert.equal(result.exitCode, 3, `${result.stdout}\n${result.stderr}`);
      assert.doesNotMatch(result.stdout, /reaches other tenants|is visible from/);
      assert.match(result.stdout, /max_user_connections/);
    } finally {
      await held?.destroy();
      await ctx.close();
      if (user) await server.sql(`ALTER USER '${user}'@'%' WITH MAX_USER_CONNECTIONS 0`);
    }
  });

  it('"Too many connections" is exit 3 with one line that says so', async () => {
    await server.sql("CREATE USER 'filler'@'%' IDENTIFIED BY 'filler'");
    const { default: knex } = await import('knex');
    const fillers: Knex[] = [];
    try {
      const connect = async (user: string, password: string) => {
        const db = knex({
          client: 'mysql2',
          connection: { host: '127.0.0.1', port: server.port, user, password },
          pool: { min: 0, max: 1 },
        });
        fillers.push(db);
        await db.raw('SELECT 1');
      };
      for (let slot = 0; slot < 12; slot += 1) await connect('filler', 'filler');
      // MariaDB keeps one more slot for a privileged user; take it too if it is there.
      await connect('root', '').catch(() => undefined);
      const result = await cli(['tenant', 'list']);
      assert.equal(result.exitCode, 3, result.stderr);
      const line = oneLine(result.stderr);
      assert.match(line, /Too many connections/);
      assert.match(line, /max_connections/);
    } finally {
      await Promise.all(fillers.map((db) => db.destroy()));
    }
  });
});

describe('diagnose finds anonymous users (CLI, private mariadbd from a stock mariadb-install-db)', function () {
  this.timeout(120_000);
  let server: PrivateMariaDb;
  let project: TestProject;

  before(async () => {
    server = await startPrivateMariaDb({ keepAnonymousUsers: true });
    project = await createPrivateServerProject(server);
  });
  after(async () => {
    await server?.stop();
    await project?.cleanup();
  });

  it('reports each anonymous user with the statement that removes it; once dropped, the check passes', async () => {
    const found = await runCli(['diagnose', '--json'], { cwd: project.dir, env: project.env });
    const report = JSON.parse(found.stdout) as {
      results: Array<{ id: string; status: string; message: string; remedy: string | null }>;
    };
    const anonymous = report.results.find((result) => result.id === 'servers.anonymous-users')!;
    assert.equal(anonymous.status, 'fail', JSON.stringify(anonymous));
    assert.equal(found.exitCode, 1);
    const users = (
      await server.sql('SELECT CONCAT("\'", User, "\'@\'", Host, "\'") FROM mysql.user WHERE User = \'\'')
    )
      .trim()
      .split('\n');
    assert.ok(users.length >= 1);
    for (const user of users) assert.ok(anonymous.remedy!.includes(`DROP USER ${user}`), anonymous.remedy!);

    await server.sql(anonymous.remedy!.match(/DROP USER [^;]+;( DROP USER [^;]+;)*/)![0]);
    const clean = await runCli(['diagnose', '--json'], { cwd: project.dir, env: project.env });
    const after = (JSON.parse(clean.stdout) as typeof report).results.find(
      (result) => result.id === 'servers.anonymous-users',
    )!;
    assert.equal(after.status, 'pass', JSON.stringify(after));
  });
});

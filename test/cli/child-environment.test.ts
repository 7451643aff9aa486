import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { runCli, runJson, runUntilPaused } from '../support/cli.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-servers.js';
import { createProject, TEST_SECRET, type TestProject } from '../support/project.js';

const ADMIN_PASSWORD = 'admin-Pa55-never-shown';

/** Variables a child may see: the minimal environment and the tenant's own. */
const ALLOWED =
  /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_\w+|TZ|TERM|COLORTERM|NO_COLOR|FORCE_COLOR|TMPDIR|TMP|TEMP|CI|AFTY_TENANT_(ID|DATABASE|SERVER)|DATABASE_URL|DB_(CONNECTION|HOST|PORT|DATABASE|USERNAME|PASSWORD|URL))$/;

/**
 * Children get a minimal environment: `tenant run` once handed every tenant command AFTY_SECRET
 * and the admin URL, with which one tenant read another's data; mariadb-dump got them too; and a
 * kill -9 mid-dump left client.cnf with the admin password in /tmp.
 */
describe('child processes get the tenant credentials and a minimal environment (CLI, private mariadbd)', function () {
  this.timeout(300_000);
  let server: PrivateMariaDb;
  let project: TestProject;
  let env: NodeJS.ProcessEnv;
  let tmp: string;
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    runCli(args, { cwd: project.dir, env: { ...env, ...extra } });
  const credentialsRoot = () => path.join(tmp, `afty-${process.getuid?.() ?? 0}`);
  const credentialFolders = () =>
    existsSync(credentialsRoot())
      ? readdirSync(credentialsRoot()).map((name) => path.join(credentialsRoot(), name))
      : [];

  before(async () => {
    server = await startPrivateMariaDb();
    await server.sql(
      `CREATE USER 'operator'@'%' IDENTIFIED BY '${ADMIN_PASSWORD}'; GRANT ALL ON *.* TO 'operator'@'%' WITH GRANT OPTION; CREATE DATABASE afty`,
    );
    project = createProject({ driver: 'mariadb', config: { servers: {} } });
    const admin = `mysql://operator:${ADMIN_PASSWORD}@127.0.0.1:${server.port}`;
    tmp = project.env.TMPDIR!;
    env = {
      ...project.env,
      AFTY_CENTRAL_URL: `${admin}/afty`,
      AFTY_SERVER_URL: admin,
      AFTY_SECRET: TEST_SECRET,
      OPERATOR_TOKEN: 'operator-only-token',
    };
    for (const id of ['alpha', 'beta']) {
      const created = await cli(['tenant', 'create', id]);
      assert.equal(created.exitCode, 0, created.stderr);
    }
  });
  after(async () => {
    await server?.stop();
    await project?.cleanup();
  });

  it('tenant run: only the minimal environment plus DATABASE_URL, AFTY_TENANT_* and DB_* of the tenant', async () => {
    const result = await runJson<{ results: Array<{ output: Array<{ line: string }> }> }>(
      [
        'tenant',
        'run',
        '-t',
        'alpha',
        '--',
        'node',
        '-e',
        'process.stdout.write(JSON.stringify(process.env))',
      ],
      { cwd: project.dir, env },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    const seen = JSON.parse(result.json.results[0]!.output.map((entry) => entry.line).join('\n')) as Record<
      string,
      string
    >;
    assert.deepEqual(
      Object.keys(seen).filter((name) => !ALLOWED.test(name)),
      [],
    );
    assert.ok(!JSON.stringify(seen).includes(ADMIN_PASSWORD), 'no admin password');
    assert.equal(seen.AFTY_SECRET, undefined);
    assert.equal(seen.OPERATOR_TOKEN, undefined);
    assert.equal(seen.DB_CONNECTION, 'mysql');
    assert.equal(seen.DB_HOST, '127.0.0.1');
    assert.equal(seen.DB_PORT, String(server.port));
    assert.equal(seen.DB_DATABASE, `${project.prefix}alpha`);
    assert.equal(seen.DB_USERNAME, `${project.prefix}alpha`);
    assert.ok(seen.DB_PASSWORD && seen.DB_PASSWORD.length >= 24);
    assert.equal(seen.DB_URL, seen.DATABASE_URL);
    assert.equal(seen.PATH, process.env.PATH);
  });

  it('tenant run: the DB_* variables log a Laravel-style client into the tenant database, as the tenant', async () => {
    const result = await runJson<{ results: Array<{ tenant: string; output: Array<{ line: string }> }> }>(
      [
        'tenant',
        'run',
        '--all',
        '--',
        'sh',
        '-c',
        'MYSQL_PWD="$DB_PASSWORD" mariadb --protocol=tcp -h"$DB_HOST" -P"$DB_PORT" -u"$DB_USERNAME" "$DB_DATABASE" -N -B -e "SELECT DATABASE(), CURRENT_USER()"',
      ],
      { cwd: project.dir, env },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    for (const row of result.json.results) {
      assert.deepEqual(
        row.output.map((entry) => entry.line),
        [`${project.prefix}${row.tenant}\t${project.prefix}${row.tenant}@%`],
      );
    }
  });

  it('mariadb-dump and mariadb get the minimal environment too', async () => {
    const bin = path.join(project.dir, 'spy-bin');
    mkdirSync(bin);
    for (const tool of ['mariadb-dump', 'mariadb']) {
      const real = `/usr/bin/${tool}`;
      writeFileSync(path.join(bin, tool), `#!/bin/sh\nenv > "${bin}/${tool}.env"\nexec ${real} "$@"\n`);
      chmodSync(path.join(bin, tool), 0o755);
    }
    const spied = { PATH: `${bin}:${process.env.PATH}` };
    assert.equal((await cli(['backup', 'create', '-t', 'alpha'], spied)).exitCode, 0);
    assert.equal((await cli(['backup', 'verify', '-t', 'alpha'], spied)).exitCode, 0);
    for (const tool of ['mariadb-dump', 'mariadb']) {
      const seen = readFileSync(path.join(bin, `${tool}.env`), 'utf8');
      assert.ok(!seen.includes(ADMIN_PASSWORD), `${tool}: no admin password in its environment`);
      const names = seen
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('=')[0]!);
      assert.deepEqual(
        names.filter((name) => !ALLOWED.test(name) && name !== 'PWD' && name !== 'SHLVL' && name !== '_'),
        [],
        tool,
      );
    }
  });

  for (const [command, args] of [
    ['backup create', ['backup', 'create', '-t', 'alpha']],
    ['backup verify', ['backup', 'verify', '-t', 'alpha']],
  ] as const) {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      it(`${command}: the option file is private (0700/0600) and gone after ${signal} ×2`, async () => {
        const paused = await runUntilPaused([...args], 'option file', { cwd: project.dir, env });
        const [folder] = credentialFolders();
        assert.ok(folder, 'a credential folder while the tool runs');
        assert.equal(statSync(folder).mode & 0o777, 0o700);
        assert.equal(statSync(credentialsRoot()).mode & 0o777, 0o700);
        const file = path.join(folder, 'client.cnf');
        assert.equal(statSync(file).mode & 0o777, 0o600);
        assert.match(readFileSync(file, 'utf8'), /^password=/m);
        // The first signal lets the dump in flight finish (a graceful stop), so the file stays;
        // the second aborts it, and the folder must go with the process.
        paused.child.kill(signal);
        const early = await Promise.race([paused.ended, delay(500).then(() => undefined)]);
        assert.equal(early, undefined, 'one signal does not cut the dump short');
        assert.ok(existsSync(file), 'the option file is kept while the dump may still use it');
        paused.child.kill(signal);
        const ended = await paused.ended;
        assert.equal(ended.exitCode, 128 + osConstants.signals[signal], JSON.stringify(ended));
        assert.deepEqual(credentialFolders(), []);
      });
    }
  }

  it('kill -9 leaves the folder; diagnose names it and diagnose --fix removes it', async () => {
    for (const args of [
      ['backup', 'create', '-t', 'beta'],
      ['backup', 'verify', '-t', 'alpha'],
    ]) {
      const paused = await runUntilPaused(args, 'option file', { cwd: project.dir, env });
      paused.child.kill('SIGKILL');
      await paused.ended;
    }
    const left = credentialFolders();
    assert.equal(left.length, 2);

    const found = await runJson<{ results: Array<{ id: string; status: string; message: string }> }>(
      ['diagnose'],
      { cwd: project.dir, env },
    );
    const check = found.json.results.find((result) => result.id === 'tools.credential-files')!;
    assert.equal(check.status, 'fail');
    for (const folder of left) assert.ok(check.message.includes(folder), check.message);

    const fixed = await runJson<{ results: Array<{ id: string; status: string }> }>(['diagnose', '--fix'], {
      cwd: project.dir,
      env,
    });
    assert.equal(fixed.json.results.find((result) => result.id === 'tools.credential-files')!.status, 'pass');
    assert.deepEqual(credentialFolders(), []);
  });
});

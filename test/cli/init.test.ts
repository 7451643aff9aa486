import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { runInTerminal } from '../support/terminal.js';
import { MARIADB_URL, mariadbAdmin, requireMariaDb, uniqueToken } from '../support/services.js';

interface InitJson {
  config: string;
  written: boolean;
  registry: string;
  checks: Array<{ name: string; ok: boolean }>;
}

const mode = (file: string) => statSync(file).mode & 0o777;

async function databaseExists(name: string): Promise<boolean> {
  const admin = await mariadbAdmin();
  try {
    const [rows] = (await admin.raw('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [
      name,
    ])) as [unknown[]];
    return rows.length > 0;
  } finally {
    await admin.destroy();
  }
}

describe('afty init on an existing config (CLI)', function () {
  this.timeout(120_000);

  describe('MariaDB registry that does not exist yet', () => {
    let project: TestProject;
    let file: string;
    let central: string;
    before(async () => {
      await requireMariaDb();
      project = createProject({ driver: 'mariadb' });
      file = path.join(project.dir, 'afty.config.json');
      central = `afty_central_${project.token}`;
    });
    after(() => project.cleanup());

    it('creates the central database and its registry, and leaves the file byte-identical', async () => {
      const options = { cwd: project.dir, env: project.env };
      const original = readFileSync(file);
      const originalMode = mode(file);
      const before = await runCli(['tenant', 'list'], options);
      assert.equal(before.exitCode, 3, before.stderr);
      assert.match(before.stderr, /Unknown database .* run afty init to create it/);

      const init = await runJson<InitJson>(['init'], options);
      assert.equal(init.exitCode, 0, init.stderr);
      assert.equal(init.json.written, false);
      assert.deepEqual(
        init.json.checks.map((check) => [check.name, check.ok]),
        [
          ['central', true],
          ['server', true],
        ],
      );
      assert.ok(await databaseExists(central));
      assert.deepEqual(readFileSync(file), original);
      assert.equal(mode(file), originalMode);

      const after = await runJson<{ total: number }>(['tenant', 'list'], options);
      assert.equal(after.exitCode, 0, after.stderr);
      assert.equal(after.json.total, 0);
      // Again: the registry is there, nothing changes, still exit 0 (init never dead-ends).
      const again = await runCli(['init'], options);
      assert.equal(again.exitCode, 0, again.stderr);
      assert.match(again.stdout, /Kept .*afty\.config\.json as it is; the central registry is ready/);
      assert.deepEqual(readFileSync(file), original);
    });

    it('refuses flags that would change the file without --force (exit 2, file unchanged)', async () => {
      const original = readFileSync(file);
      const result = await runCli(['init', '--central', 'sqlite:other.sqlite', '--seeds', 's'], {
        cwd: project.dir,
        env: project.env,
      });
      assert.equal(result.exitCode, 2);
      assert.match(result.stderr, /already exists and --central, --seeds would change it — pass --force/);
      assert.equal(result.stderr.trim().split('\n').length, 1);
      assert.deepEqual(readFileSync(file), original);
      assert.ok(!existsSync(path.join(project.dir, 'other.sqlite')));
    });
  });

  describe('an account that may not create databases', () => {
    let project: TestProject;
    let user: string;
    before(async () => {
      await requireMariaDb();
      project = createProject({ driver: 'mariadb' });
      // The tenant prefix: project cleanup drops the user.
      user = `${project.prefix}init`;
      const admin = await mariadbAdmin();
      try {
        await admin.raw("CREATE USER ?@'%' IDENTIFIED BY 'pw-init-test'", [user]);
      } finally {
        await admin.destroy();
      }
    });
    after(() => project.cleanup());

    it('says what an administrator must run when the database is missing, and uses it once it exists', async () => {
      const database = `${project.prefix}central`;
      writeFileSync(
        path.join(project.dir, 'afty.config.json'),
        JSON.stringify({
          central: `mysql://${user}:pw-init-test@127.0.0.1:3306/${database}`,
          servers: { default: MARIADB_URL },
          tenancy: { databasePrefix: project.prefix },
        }),
      );
      const options = { cwd: project.dir, env: project.env };
      const refused = await runCli(['init'], options);
      assert.equal(refused.exitCode, 2, refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(
          `^Error: ${user} may not create the central database ${database} .*have an administrator run CREATE DATABASE`,
          'm',
        ),
      );
      assert.ok(!refused.stderr.includes('pw-init-test'));
      assert.equal(await databaseExists(database), false);

      const admin = await mariadbAdmin();
      try {
        await admin.raw('CREATE DATABASE ??', [database]);
        await admin.raw("GRANT ALL ON ??.* TO ?@'%'", [database, user]);
      } finally {
        await admin.destroy();
      }
      const done = await runJson<InitJson>(['init'], options);
      assert.equal(done.exitCode, 0, done.stderr);
      assert.equal(done.json.written, false);
    });
  });

  describe('--force and new files (SQLite)', () => {
    let project: TestProject;
    let file: string;
    before(() => {
      project = createProject({
        driver: 'sqlite',
        config: {
          servers: { default: 'sqlite:.afty/tenants', eu: { url: 'sqlite:.afty/eu', concurrency: 2 } },
          cache: { prefix: 'keep-me:', connectTimeoutMs: 1500 },
          backup: { directory: 'bk', keep: 3, maxAgeDays: 7 },
          concurrency: 3,
          runs: { keepDays: 12 },
        },
      });
      file = path.join(project.dir, 'afty.config.json');
    });
    after(() => project.cleanup());

    it('creates the SQLite registry on an existing config without touching it', async () => {
      const original = readFileSync(file);
      const result = await runJson<InitJson>(['init'], { cwd: project.dir, env: project.env });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.ok(existsSync(path.join(project.dir, '.afty/central.sqlite')));
      assert.deepEqual(readFileSync(file), original);
    });

    it('--force rewrites only what was given, keeps every other key, and leaves the file 0600', async () => {
      const before = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.notEqual(mode(file), 0o600);
      const result = await runJson<InitJson>(
        ['init', '--force', '--yes', '--migrations', 'db/tenant', '--database-prefix', 'acme_'],
        { cwd: project.dir, env: project.env },
      );
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(result.json.written, true);
      const after = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.deepEqual(after, {
        ...before,
        tenancy: { databasePrefix: 'acme_' },
        migrations: { directory: 'db/tenant', snapshot: 'db/tenant/schema.sql' },
      });
      assert.deepEqual(Object.keys(after), [...Object.keys(before), 'migrations']);
      assert.equal(mode(file), 0o600);
      // Nothing given: nothing changes, even with --force (no default overwrites a value).
      const text = readFileSync(file, 'utf8');
      const again = await runCli(['init', '--force', '--yes'], { cwd: project.dir, env: project.env });
      assert.equal(again.exitCode, 0, again.stderr);
      assert.equal(readFileSync(file, 'utf8'), text);
    });

    it('in a terminal asks each value, the database prefix included, offering what the file says', async () => {
      const before = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      const answers: Array<[string, string]> = [
        ['Central registry URL', ''],
        ['Tenant database server URL', ''],
        ['Redis URL', ''],
        ['Tenant database prefix', 'shop_'],
        ['Tenant migrations directory', ''],
        ['Tenant seeds directory', ''],
      ];
      let answered = 0;
      const run = await runInTerminal(['init', '--force'], {
        cwd: project.dir,
        env: project.env,
        onOutput(raw, type) {
          const next = answers[answered];
          if (next && stripVTControlCharacters(raw).includes(next[0])) {
            answered += 1;
            type(`${next[1]}\r`);
          }
        },
      });
      assert.equal(run.exitCode, 0, run.text);
      assert.equal(answered, answers.length, run.text);
      assert.match(stripVTControlCharacters(run.raw), /Tenant database prefix \(acme_\)/);
      const after = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.deepEqual(after, { ...before, tenancy: { databasePrefix: 'shop_' } });
      assert.equal(mode(file), 0o600);
    });

    it('writes a new config 0600 with the database prefix given', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), `afty-init-${uniqueToken()}-`));
      try {
        const result = await runJson<InitJson>(['init', '--yes', '--database-prefix', 'shop_'], {
          cwd: dir,
          env: project.env,
        });
        assert.equal(result.exitCode, 0, result.stderr);
        const written = path.join(dir, 'afty.config.json');
        assert.equal(mode(written), 0o600);
        const config = JSON.parse(readFileSync(written, 'utf8')) as { tenancy: { databasePrefix: string } };
        assert.equal(config.tenancy.databasePrefix, 'shop_');
        // The folders it names exist: a configured folder that is missing is an error on use.
        for (const folder of ['migrations/tenant', 'seeds/tenant'])
          assert.ok(statSync(path.join(dir, folder)).isDirectory(), folder);
        const status = await runCli(['tenant', 'create', 'acme', '--migrate'], {
          cwd: dir,
          env: project.env,
        });
        assert.equal(status.exitCode, 0, status.stderr);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a bad prefix and an unusable folder with exit 2, naming them, and writes nothing', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), `afty-init-${uniqueToken()}-`));
      try {
        writeFileSync(path.join(dir, 'not-a-folder'), 'x');
        const cases: Array<[string[], RegExp]> = [
          [
            ['--database-prefix', '9-bad'],
            /^Error: --database-prefix "9-bad" is not valid: use 1-20 characters/m,
          ],
          [
            ['--migrations', 'not-a-folder/tenant'],
            /^Error: migrations\.directory .*not-a-folder\/tenant cannot be used: .*not-a-folder is not a directory/m,
          ],
          [
            ['--seeds', 'not-a-folder'],
            /^Error: seeds\.directory .*not-a-folder cannot be used: .* is not a directory/m,
          ],
        ];
        for (const [args, expected] of cases) {
          const result = await runCli(['init', '--yes', ...args], { cwd: dir, env: project.env });
          assert.equal(result.exitCode, 2, `${args.join(' ')}: ${result.stderr}`);
          assert.match(result.stderr, expected);
          assert.equal(
            result.stderr
              .trim()
              .split('\n')
              .filter((line) => line.startsWith('Error')).length,
            1,
          );
          assert.deepEqual(readdirSync(dir), ['not-a-folder']);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

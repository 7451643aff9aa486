import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runCli, runJson } from '../support/cli.js';
import { createProject, type TestProject } from '../support/project.js';
import { MARIADB_URL, requireMariaDb } from '../support/services.js';

interface DiagnoseJson {
  results: Array<{ id: string; server: string | null; status: string; message: string }>;
}

describe('errors that say what to do (CLI)', function () {
  this.timeout(120_000);
  let project: TestProject;
  let file: string;
  let original: string;
  before(() => {
    project = createProject({ driver: 'sqlite' });
    file = path.join(project.dir, 'afty.config.json');
    original = readFileSync(file, 'utf8');
  });
  afterEach(() => writeFileSync(file, original));
  after(() => project.cleanup());
  const cli = (args: string[]) => runCli(args, { cwd: project.dir, env: project.env });

  it('a JSON syntax error is FILE:LINE:COLUMN: what, exit 2, one line', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['{\n  "concurrency": 2,\n}\n', '3:1', /not valid JSON: property name expected/],
      ['{\n  "tenancy": {\n    "tenantUsers": tru\n  }\n}\n', '3:20', /not valid JSON: /],
      ['{\n  "central": "sqlite:x.sqlite"\n  "concurrency": 2\n}\n', '3:3', /not valid JSON: comma expected/],
      ['{ "concurrency": 2', '1:19', /not valid JSON: /],
    ];
    for (const [text, position, what] of cases) {
      writeFileSync(file, text);
      const result = await cli(['tenant', 'list']);
      assert.equal(result.exitCode, 2, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.startsWith(`Error: ${file}:${position}: `), `${JSON.stringify(text)}: ${lines[0]}`);
      assert.match(lines[0]!, what);
      assert.equal(readFileSync(file, 'utf8'), text);
    }
  });

  it('an unknown config key, at any level, names the key it most likely meant', async () => {
    writeFileSync(
      file,
      JSON.stringify({
        ...JSON.parse(original),
        concurency: 2,
        tenancy: { ...(JSON.parse(original) as { tenancy: object }).tenancy, databasePrefx: 'x_' },
        databasePrefix: 'y_',
        servers: { default: { url: 'sqlite:.afty/tenants', concurency: 2 } },
        cahce: {},
        nothingLikeIt: 1,
      }),
    );
    const result = await runJson<{ total: number }>(['tenant', 'list'], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(result.exitCode, 0, result.stderr);
    const warning = (key: string, suggestion?: string) =>
      `warning: ${file}: unknown key "${key}" (ignored)${suggestion ? `; did you mean "${suggestion}"?` : ''}`;
    assert.deepEqual(result.stderr.trim().split('\n').sort(), [
      warning('cahce', 'cache'),
      warning('concurency', 'concurrency'),
      warning('databasePrefix', 'tenancy.databasePrefix'),
      warning('nothingLikeIt'),
      warning('servers.default.concurency', 'servers.default.concurrency'),
      warning('tenancy.databasePrefx', 'tenancy.databasePrefix'),
    ]);
  });

  it('an unknown flag gets a did-you-mean without a terminal, exit 2, and nothing runs', async () => {
    const result = await cli(['db', 'status', '--tenants', 'acme']);
    assert.equal(result.exitCode, 2);
    assert.equal(
      result.stderr.trim(),
      'Error: Nonexistent flag: --tenants; did you mean --tenant? (see afty db status --help)',
    );
    const json = await runJson<{ error: { message: string; exitCode: number } }>(
      ['tenant', 'list', '--serch', 'x'],
      { cwd: project.dir, env: project.env },
    );
    assert.equal(json.exitCode, 2);
    assert.match(json.json.error.message, /^Nonexistent flag: --serch; did you mean --search\?/);
    const far = await cli(['tenant', 'list', '--zzzzzz']);
    assert.equal(far.exitCode, 2);
    assert.equal(far.stderr.trim(), 'Error: Nonexistent flag: --zzzzzz (see afty tenant list --help)');
  });

  it('an unknown command is "not an afty command", with a suggestion, exit 127, without a terminal', async () => {
    const typo = await cli(['tenant', 'lst']);
    assert.equal(typo.exitCode, 127);
    assert.equal(
      typo.stderr.trim(),
      'Error: "tenant lst" is not an afty command; did you mean afty tenant list? (see afty help)',
    );
    assert.equal(typo.stdout, '');
    const topic = await cli(['tenants']);
    assert.equal(topic.exitCode, 127);
    assert.match(topic.stderr, /^Error: "tenants" is not an afty command; did you mean afty tenant\?/);
    const nothing = await cli(['frobnicate']);
    assert.equal(nothing.exitCode, 127);
    assert.equal(nothing.stderr.trim(), 'Error: "frobnicate" is not an afty command (see afty help)');
  });

  it('help shows no empty [default: ] on repeatable flags', async () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, { flags: Record<string, { multiple?: boolean; default?: unknown }> }>;
    };
    const empty = Object.entries(manifest.commands).flatMap(([id, command]) =>
      Object.entries(command.flags)
        .filter(([, flag]) => Array.isArray(flag.default) && flag.default.length === 0)
        .map(([name]) => `${id} --${name}`),
    );
    assert.deepEqual(empty, []);
    for (const id of ['tenant create', 'tenant list', 'tenant update', 'backup list']) {
      const help = await cli([...id.split(' '), '--help']);
      assert.equal(help.exitCode, 0);
      assert.doesNotMatch(help.stdout, /\[default: \]/, id);
    }
  });

  it('db status on tenants without migrations prints one line naming the folder', async () => {
    for (const id of ['acme', 'globex']) assert.equal((await cli(['tenant', 'create', id])).exitCode, 0);
    const fleet = await cli(['db', 'status', '--all']);
    assert.equal(fleet.exitCode, 0, fleet.stderr);
    assert.equal(
      fleet.stdout.trim(),
      'no migrations in migrations/tenant, and none recorded by any of the 2 tenants',
    );
  });
});

describe('diagnose and a registry that shares the tenant prefix', function () {
  this.timeout(120_000);

  it('on MariaDB: the central database named <prefix>central is no orphan', async () => {
    await requireMariaDb();
    const project = createProject({ driver: 'mariadb' });
    try {
      const central = `${project.prefix}central`;
      writeFileSync(
        path.join(project.dir, 'afty.config.json'),
        JSON.stringify({ ...project.config, central: `${MARIADB_URL}/${central}` }),
      );
      const options = { cwd: project.dir, env: project.env };
      assert.equal((await runCli(['init'], options)).exitCode, 0);
      assert.equal((await runCli(['tenant', 'create', 'acme'], options)).exitCode, 0);
      const report = await runJson<DiagnoseJson>(['diagnose'], options);
      const orphans = report.json.results.filter((result) => result.id === 'database.orphans');
      assert.deepEqual(
        orphans.map((result) => [result.server, result.status]),
        [['default', 'pass']],
        JSON.stringify(orphans),
      );
    } finally {
      await project.cleanup();
    }
  });

  it('on SQLite: a registry file in the tenant folder with the prefix is no orphan', async () => {
    const project = createProject({ driver: 'sqlite' });
    try {
      writeFileSync(
        path.join(project.dir, 'afty.config.json'),
        JSON.stringify({
          ...project.config,
          central: `sqlite:.afty/tenants/${project.prefix}central.sqlite`,
          servers: { default: 'sqlite:.afty/tenants' },
        }),
      );
      const options = { cwd: project.dir, env: project.env };
      assert.equal((await runCli(['tenant', 'create', 'acme'], options)).exitCode, 0);
      // A real orphan beside it is still found.
      writeFileSync(path.join(project.dir, `.afty/tenants/${project.prefix}stray.sqlite`), '');
      const report = await runJson<DiagnoseJson>(['diagnose'], options);
      const orphans = report.json.results.filter((result) => result.id === 'database.orphans');
      assert.equal(orphans.length, 1);
      assert.equal(orphans[0]!.status, 'warn');
      assert.match(orphans[0]!.message, new RegExp(`no tenant: ${project.prefix}stray$`));
    } finally {
      await project.cleanup();
    }
  });
});
